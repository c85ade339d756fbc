package supervisor

import (
	"fmt"
	"os/user"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// user resolves [exec] user, group and supplementary_groups. Without a
// group the user's primary group is used; without supplementary_groups
// the user's groups in the group database, as initgroups gives them.
func (c *checker) user(e *execSection) *specs.User {
	if e.User == nil {
		if e.Group != nil || e.SupplementaryGroups != nil {
			c.fail("[exec] group", "needs [exec] user")
		}
		return nil
	}
	uid, u, err := lookupID(e.User, user.Lookup, func(s string) (*user.User, error) { return user.LookupId(s) })
	if err != nil {
		c.fail("[exec] user", "%v", err)
		return nil
	}
	su := &specs.User{UID: uid}
	switch {
	case e.Group != nil:
		su.GID, err = groupID(e.Group)
		if err != nil {
			c.fail("[exec] group", "%v", err)
		}
	case u != nil:
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		su.GID = uint32(gid)
	default:
		c.fail("[exec] group", "missing, and user %d is not in the user database", uid)
	}
	su.AdditionalGids = c.groups(e.SupplementaryGroups, u)
	return su
}

func (c *checker) groups(list []any, u *user.User) []uint32 {
	var gids []uint32
	if list == nil && u != nil {
		ids, err := u.GroupIds()
		if err != nil {
			c.fail("[exec] supplementary_groups", "look up the groups of %s: %v", u.Username, err)
		}
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				gids = append(gids, uint32(g))
			}
		}
		return gids
	}
	for _, v := range list {
		g, err := groupID(v)
		if err != nil {
			c.fail("[exec] supplementary_groups", "%v", err)
			continue
		}
		gids = append(gids, g)
	}
	return gids
}

func groupID(v any) (uint32, error) {
	id, _, err := lookupID(v, func(s string) (*user.Group, error) { return user.LookupGroup(s) },
		func(s string) (*user.Group, error) { return user.LookupGroupId(s) })
	return id, err
}

// lookupID resolves a name (which must exist) or a numeric id (which need
// not; the entry is returned when the database has it).
func lookupID[T any](v any, byName, byID func(string) (*T, error)) (uint32, *T, error) {
	switch v := v.(type) {
	case int64:
		if v < 0 || v >= 1<<32-1 {
			return 0, nil, fmt.Errorf("%d: want an id 0 to %d", v, uint32(1<<32-2))
		}
		e, err := byID(strconv.FormatInt(v, 10))
		if err != nil {
			e = nil
		}
		return uint32(v), e, nil
	case string:
		e, err := byName(v)
		if err != nil || v == "" {
			return 0, nil, fmt.Errorf("%q: not found", v)
		}
		id, err := strconv.ParseUint(idOf(e), 10, 32)
		return uint32(id), e, err
	}
	return 0, nil, fmt.Errorf("want a name or a numeric id, not %s", tomlKind(v))
}

func idOf(e any) string {
	switch e := e.(type) {
	case *user.User:
		return e.Uid
	case *user.Group:
		return e.Gid
	}
	return ""
}
