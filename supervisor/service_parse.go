package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// ServiceError is one thing wrong in a service file. It wraps ErrBadConfig.
type ServiceError struct {
	File string // the file's path
	Line int    // 1-based; 0 when the decoder gave no position
	Key  string // "[restart] policy", "after", "[[listen]] 2 address"; "" for the file
	Msg  string
}

func (e *ServiceError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + " ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ServiceError) Unwrap() error { return ErrBadConfig }

// serviceFile is a service file as TOML decodes it; service_check.go turns
// it into a Service.
type serviceFile struct {
	Name            *string        `toml:"name"`
	Exec            *execSection   `toml:"exec"`
	Restart         restartSection `toml:"restart"`
	Stop            stopSection    `toml:"stop"`
	After           []string       `toml:"after"`
	Resources       *resSection    `toml:"resources"`
	Continuations   contSection    `toml:"continuations"`
	Readiness       *string        `toml:"readiness"`
	StartTimeout    *string        `toml:"start_timeout"`
	Watchdog        *string        `toml:"watchdog"`
	Listen          []listenEntry  `toml:"listen"`
	FDStoreMax      *int64         `toml:"fdstore_max"`
	FDStorePreserve bool           `toml:"fdstore_preserve"`
}

type execSection struct {
	Args                []string `toml:"args"`
	Env                 any      `toml:"env"`
	Cwd                 string   `toml:"cwd"`
	User                any      `toml:"user"`
	Group               any      `toml:"group"`
	SupplementaryGroups []any    `toml:"supplementary_groups"`
}

type restartSection struct {
	Policy   *string `toml:"policy"`
	Delay    *string `toml:"delay"`
	MaxDelay *string `toml:"max_delay"`
	Burst    *int64  `toml:"burst"`
	Interval *string `toml:"interval"`
}

type stopSection struct {
	Signal  any     `toml:"signal"`
	Timeout *string `toml:"timeout"`
}

type resSection struct {
	MemoryMax any     `toml:"memory_max"`
	PidsMax   *int64  `toml:"pids_max"`
	CPUWeight *int64  `toml:"cpu_weight"`
	CPUQuota  *string `toml:"cpu_quota"`
}

type contSection struct {
	Expiry *string `toml:"expiry"`
}

type listenEntry struct {
	Address        string  `toml:"address"`
	Name           *string `toml:"name"`
	Accept         bool    `toml:"accept"`
	MaxConnections *int64  `toml:"max_connections"`
}

// ParseService parses and validates one service file's contents; file is
// its path, for the name (its base without .toml, unless the file sets
// name) and the errors. Every error wraps ErrBadConfig; all the problems
// found are joined, each a *ServiceError.
func ParseService(file string, data []byte) (*Service, error) {
	var f serviceFile
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, decodeErrors(file, err)
	}
	if err := checkKeyCase(file, data); err != nil {
		return nil, err
	}
	c := &checker{file: file, lines: keyLines(data)}
	s := c.service(&f, strings.TrimSuffix(filepath.Base(file), ServiceFileExt))
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	s.File = file
	return s, nil
}

// decodeErrors turns the decoder's error into ServiceErrors with lines.
func decodeErrors(file string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			errs = append(errs, &ServiceError{File: file, Line: line, Key: keyName(e.Key()), Msg: "unknown key"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		key, msg := keyName(de.Key()), strings.TrimPrefix(de.Error(), "toml: ")
		if m := typeErrorRE.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("want %s, not a TOML %s", goTypeNames[m[2]], m[1])
		} else if strings.Contains(msg, "key "+lastKey(de.Key())+" ") {
			key = "" // the message names it
		}
		return &ServiceError{File: file, Line: line, Key: key, Msg: msg}
	}
	return &ServiceError{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
}

// typeErrorRE matches the decoder's type errors, to say them in the
// format's words rather than the parser's Go types.
var typeErrorRE = regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (.+)$`)

var goTypeNames = map[string]string{
	"string": "a string", "[]string": "an array of strings", "bool": "true or false",
	"int64": "an integer", "[]interface {}": "an array", "[]supervisor.listenEntry": "[[listen]] tables",
	"supervisor.execSection": "a table", "supervisor.restartSection": "a table", "supervisor.stopSection": "a table",
	"supervisor.resSection": "a table", "supervisor.contSection": "a table", "supervisor.listenEntry": "a table",
}

func lastKey(k toml.Key) string {
	if len(k) == 0 {
		return ""
	}
	return k[len(k)-1]
}

// keyName writes a dotted TOML key the way the errors name keys:
// "[restart] policy".
func keyName(k toml.Key) string {
	switch len(k) {
	case 0:
		return ""
	case 1:
		return k[0]
	}
	return "[" + strings.Join(k[:len(k)-1], ".") + "] " + k[len(k)-1]
}

// tomlKind names the TOML type of a decoded value.
func tomlKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []any:
		return "an array"
	}
	return "a date or time"
}
