package supervisor

import (
	"errors"
	"reflect"
	"sort"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// checkKeyCase rejects keys the decoder matched only case-insensitively
// ("Name" for "name"): the format's keys are case-sensitive, as TOML's
// are. The decoder has accepted data, so only the case can be wrong.
func checkKeyCase(file string, data []byte) error {
	var m map[string]any
	if err := toml.Unmarshal(data, &m); err != nil {
		return &ServiceError{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	var errs []error
	walkKeys(m, reflect.TypeFor[serviceFile](), nil, func(path []string, want string) {
		errs = append(errs, &ServiceError{File: file, Key: keyName(path),
			Msg: "unknown key (keys are case-sensitive: " + want + ")"})
	})
	return joinSorted(errs)
}

// walkKeys calls bad for every key of m that names a field of struct type
// t only case-insensitively, recursing into tables and arrays of tables.
func walkKeys(m map[string]any, t reflect.Type, path []string, bad func(path []string, want string)) {
	for k, v := range m {
		f, ok := fieldByTag(t, k)
		if !ok {
			continue // the decoder let it through: a field of type any
		}
		p := append(append([]string(nil), path...), k)
		if f.Tag.Get("toml") != k {
			bad(p, f.Tag.Get("toml"))
			continue
		}
		walkValue(v, f.Type, p, bad)
	}
}

func walkValue(v any, t reflect.Type, path []string, bad func([]string, string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := v.(type) {
	case map[string]any:
		if t.Kind() == reflect.Struct {
			walkKeys(v, t, path, bad)
		}
	case []any:
		if t.Kind() == reflect.Slice {
			for _, e := range v {
				walkValue(e, t.Elem(), path, bad)
			}
		}
	}
}

// fieldByTag finds t's field whose toml tag equals k, ignoring case.
func fieldByTag(t reflect.Type, k string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if strings.EqualFold(f.Tag.Get("toml"), k) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// joinSorted joins errs in the order of their messages, so a file's
// errors read the same on every run whatever map order found them.
func joinSorted(errs []error) error {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}
