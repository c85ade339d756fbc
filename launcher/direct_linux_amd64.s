#include "textflag.h"

// func rawClone3(args, size uintptr) (pid, errno uintptr)
//
// clone3 with CLONE_VM|CLONE_VFORK: the child runs on the caller's stack
// until it execs or exits, and returns from this function first. The return
// address is kept in a register across the system call, so that whatever
// the child pushes or pops on the shared stack, the parent returns where it
// was called from.
TEXT ·rawClone3(SB),NOSPLIT|NOFRAME,$0-32
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVQ	$0, R9
	MOVQ	$435, AX	// SYS_clone3
	POPQ	R12		// the return address, out of the child's way
	SYSCALL
	PUSHQ	R12
	CMPQ	AX, $0xfffffffffffff001
	JLS	done
	NEGQ	AX
	MOVQ	$0, pid+16(FP)
	MOVQ	AX, errno+24(FP)
	RET
done:
	MOVQ	AX, pid+16(FP)
	MOVQ	$0, errno+24(FP)
	RET
