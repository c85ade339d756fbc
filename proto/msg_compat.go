package proto

// CompatRegister registers the app's compatibility vector for one version of
// it (the paper's register_compat_vector), replacing any earlier one for the
// same version. The app is the peer's, never a claimed one. Answered with
// Ack.
type CompatRegister struct {
	// Version is the app's version the vector describes, e.g. "2.4.1".
	Version string
	Tags    []CompatTag
}

// Type returns TypeCompatRegister.
func (*CompatRegister) Type() Type     { return TypeCompatRegister }
func (*CompatRegister) fds() int       { return 0 }
func (m *CompatRegister) check() error { return checkTags(m.Tags) }

func (m *CompatRegister) walk(c *codec) {
	c.str(1, "version", &m.Version, textName)
	structs(c, 2, "tags", &m.Tags, MaxItems)
}

// CompatGet asks for the registered vector of one version of the app.
// Answered with CompatReply, or Error CodeUnknownKey when none is registered.
type CompatGet struct {
	Version string
}

// Type returns TypeCompatGet.
func (*CompatGet) Type() Type      { return TypeCompatGet }
func (*CompatGet) fds() int        { return 0 }
func (*CompatGet) check() error    { return nil }
func (m *CompatGet) walk(c *codec) { c.str(1, "version", &m.Version, textName) }

// CompatReply answers CompatGet.
type CompatReply struct {
	Version string
	Tags    []CompatTag
}

// Type returns TypeCompatReply.
func (*CompatReply) Type() Type     { return TypeCompatReply }
func (*CompatReply) fds() int       { return 0 }
func (m *CompatReply) check() error { return checkTags(m.Tags) }

func (m *CompatReply) walk(c *codec) {
	c.str(1, "version", &m.Version, textName)
	structs(c, 2, "tags", &m.Tags, MaxItems)
}
