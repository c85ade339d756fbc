package proto

// firstDup returns the first pair i < j whose keys are equal, among n keys.
func firstDup[K comparable](n int, key func(int) K) (i, j int, found bool) {
	if n <= 16 {
		for j := 1; j < n; j++ {
			for i := 0; i < j; i++ {
				if key(i) == key(j) {
					return i, j, true
				}
			}
		}
		return 0, 0, false
	}
	seen := make(map[K]int, n)
	for j := 0; j < n; j++ {
		k := key(j)
		if i, ok := seen[k]; ok {
			return i, j, true
		}
		seen[k] = j
	}
	return 0, 0, false
}
