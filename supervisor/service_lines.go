package supervisor

import (
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyLines maps the keys of a decoded document, named as the errors name
// them ("[restart] policy", "[[listen]] 2 address", and "[restart]" for a
// section), to the line that sets them.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	prefix := ""
	arrays := map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind != unstable.Table && e.Kind != unstable.ArrayTable && e.Kind != unstable.KeyValue {
			continue
		}
		line := keyLine(&p, e)
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e.Key())
			name := strings.Join(table, ".")
			prefix = "[" + name + "] "
			if e.Kind == unstable.ArrayTable {
				arrays[name]++
				prefix = fmt.Sprintf("[[%s]] %d ", name, arrays[name])
			}
			setLine(lines, strings.TrimSuffix(prefix, " "), line)
		case unstable.KeyValue:
			key := keyParts(e.Key())
			if len(table) == 0 && len(key) > 1 {
				setLine(lines, "["+strings.Join(key[:len(key)-1], ".")+"]", line)
				setLine(lines, keyName(key), line)
			} else {
				setLine(lines, prefix+strings.Join(key, "."), line)
				setLine(lines, "["+key[0]+"]", line) // an inline table
			}
		}
	}
	return lines
}

// keyLine returns the line of an expression's key (table headers have
// no range of their own).
func keyLine(p *unstable.Parser, e *unstable.Node) int {
	it := e.Key()
	if !it.Next() {
		return 0
	}
	return p.Shape(it.Node().Raw).Start.Line
}

func setLine(lines map[string]int, key string, line int) {
	if _, ok := lines[key]; !ok {
		lines[key] = line
	}
}

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// lineOf returns the line of key, or of its section, or 0.
func lineOf(lines map[string]int, key string) int {
	if l, ok := lines[key]; ok {
		return l
	}
	if i := strings.LastIndexByte(key, ' '); i > 0 {
		return lines[key[:i]]
	}
	return 0
}
