package proto

import (
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

const docsPath = "../docs/protocol.md"

// describeBody lists the fields of a message type.
func describeBody(b Body) []fieldInfo {
	c := codec{mode: describing}
	b.walk(&c)
	return c.fields
}

// wireType is the "type" column of docs/protocol.md for a field.
func wireType(f fieldInfo) string {
	s := f.Wire
	if f.Of != "" {
		s = "struct " + f.Of
	}
	if f.Repeated {
		s = "repeated " + s
	}
	if f.Required {
		s += ", required"
	}
	return s
}

// schemaStructs returns the field lists of every message type and every
// struct a field holds, by the heading that documents them.
func schemaStructs() map[string][]fieldInfo {
	out := map[string][]fieldInfo{}
	var nested func([]fieldInfo)
	nested = func(fs []fieldInfo) {
		for _, f := range fs {
			if f.Of != "" {
				out["#### "+f.Of] = f.Sub
				nested(f.Sub)
			}
		}
	}
	for _, t := range Types() {
		fs := describeBody(types[t].body())
		out[fmt.Sprintf("### 0x%02x %v", uint8(t), t)] = fs
		nested(fs)
	}
	return out
}

// Tags are unique within a struct and in 1..maxKnownTag, names are unique,
// and the ids travel in the origin's space.
func TestSchemaTags(t *testing.T) {
	for heading, fs := range schemaStructs() {
		tags, names := map[uint16]bool{}, map[string]bool{}
		for _, f := range fs {
			if f.Tag == 0 || f.Tag > maxKnownTag || tags[f.Tag] || names[f.Name] {
				t.Errorf("%s: field %s has a bad or duplicate tag %d or name", heading, f.Name, f.Tag)
			}
			tags[f.Tag], names[f.Name] = true, true
		}
	}
}

// docs/protocol.md documents every message type and nested struct with a
// table whose tag, field and type columns match the code.
func TestDocsMatchSchema(t *testing.T) {
	doc := readDocs(t)
	for heading, fs := range schemaStructs() {
		rows, ok := docTable(doc, heading)
		if !ok {
			t.Errorf("docs lack a section %q", heading)
			continue
		}
		var want [][3]string
		for _, f := range fs {
			want = append(want, [3]string{fmt.Sprint(f.Tag), f.Name, wireType(f)})
		}
		if !reflect.DeepEqual(rows, want) {
			t.Errorf("%s: docs table says\n%v\ncode says\n%v", heading, rows, want)
		}
	}
}

func readDocs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("read the protocol docs: %v", err)
	}
	return string(b)
}

// docTable returns the first three cells of the body rows of the first table
// in the section under heading (up to the next heading).
func docTable(doc, heading string) ([][3]string, bool) {
	i := strings.Index(doc, "\n"+heading+" ")
	if i < 0 {
		i = strings.Index(doc, "\n"+heading+"\n")
	}
	if i < 0 {
		return nil, false
	}
	section := doc[i+1:]
	if j := strings.Index(section[1:], "\n#"); j >= 0 {
		section = section[:j+1]
	}
	var rows [][3]string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(line, "|") {
			continue
		}
		tag := strings.TrimSpace(cells[1])
		if tag == "tag" || strings.HasPrefix(tag, "-") {
			continue
		}
		rows = append(rows, [3]string{tag, strings.Trim(strings.TrimSpace(cells[2]), "`"), strings.TrimSpace(cells[3])})
	}
	return rows, true
}

// docExamples are the messages whose encodings docs/protocol.md shows.
func docExamples() []Message {
	return []Message{
		{ID: 1, Body: &Hello{Version: 1, PID: 4242, App: "echo"}},
		{ID: 5, Body: &ReturnCont{
			Session: 12, Request: SupervisorBit | 1, Kind: KindSystem,
			Slots: []Slot{{FD: 5, Role: RoleConn, Conn: true}},
			Store: []Entry{{Key: "offset", Value: []byte{0x2a, 0, 0, 0}}},
		}},
	}
}

// The hex dumps in docs/protocol.md are real encodings.
func TestDocsHexDumps(t *testing.T) {
	doc := readDocs(t)
	for _, m := range docExamples() {
		dump := hex.Dump(mustEncode(t, m))
		if !strings.Contains(doc, dump) {
			t.Errorf("docs lack the hex dump of %v:\n%s", m.Body.Type(), dump)
		}
	}
}

// The "sent by" column of the docs' table of types agrees with SentBy.
func TestDocsSenders(t *testing.T) {
	doc := readDocs(t)
	for _, typ := range Types() {
		var want string
		switch app, sup := typ.SentBy(OriginApp), typ.SentBy(OriginSupervisor); {
		case app && sup:
			want = "either"
		case app:
			want = "app"
		case sup:
			want = "supervisor"
		}
		row := fmt.Sprintf("| `0x%02x %v` | %s |", uint8(typ), typ, want)
		if !strings.Contains(doc, row) {
			t.Errorf("docs lack the row %q", row)
		}
	}
	if Type(0x7f).SentBy(OriginApp) || TypeAck.SentBy(OriginReply) {
		t.Error("SentBy accepts an unknown type or side")
	}
}
