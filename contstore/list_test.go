package contstore

import (
	"reflect"
	"testing"
	"time"
)

func listIDs(t testing.TB, s *Store, f Filter) []ID {
	t.Helper()
	cs, err := s.List(f)
	if err != nil {
		t.Fatal(err)
	}
	var ids []ID
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestListFilters(t *testing.T) {
	s := newTestStore(t)
	w1 := putSession(t, s, "web")
	w2 := putSession(t, s, "web")
	m1 := putSession(t, s, "webmail") // an app name that extends another
	x1 := putSession(t, s, "sshd")
	put := func(app string, session SessionID, state State) ID {
		return mustPut(t, s, smallContinuation(app, session, state)).ID
	}
	a := put("web", w1, StateSuspended)
	b := put("sshd", x1, StateSuspended)
	c := put("web", w2, StateSuspending)
	d := put("webmail", m1, StateSuspended)
	e := put("web", w1, StateSuspending)
	if err := s.Transition(e, StateSuspending, StateDropped); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		f    Filter
		want []ID
	}{
		{Filter{}, []ID{a, b, c, d, e}},
		{Filter{App: "web"}, []ID{a, c, e}},
		{Filter{App: "webmail"}, []ID{d}},
		{Filter{State: StateSuspended}, []ID{a, b, d}},
		{Filter{State: StateSuspending}, []ID{c}},
		{Filter{State: StateDropped}, []ID{e}},
		{Filter{App: "web", State: StateSuspended}, []ID{a}},
		{Filter{Session: w1}, []ID{a, e}},
		{Filter{Session: w1, State: StateDropped}, []ID{e}},
		{Filter{Session: w1, App: "sshd"}, nil},
		{Filter{Session: x1 + 1}, nil},
		{Filter{App: "nobody"}, nil},
		{Filter{State: StateLost}, nil},
	}
	for _, tc := range cases {
		if got := listIDs(t, s, tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestListReturnsStoresUnlessSkipped(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "sshd")
	want := mustPut(t, s, fullContinuation("sshd", s1))
	all, err := s.List(Filter{})
	if err != nil || len(all) != 1 || !reflect.DeepEqual(all[0], want) {
		t.Fatalf("List = %+v, %v; want the record as put", all, err)
	}
	light, err := s.List(Filter{SkipStore: true})
	if err != nil || len(light) != 1 {
		t.Fatalf("List(SkipStore) = %+v, %v", light, err)
	}
	if light[0].Store != nil || light[0].StoreRawBytes != want.StoreRawBytes || light[0].StoreCompressedBytes != want.StoreCompressedBytes {
		t.Errorf("List(SkipStore): store %d entries, sizes %d/%d; want none and sizes %d/%d",
			len(light[0].Store), light[0].StoreRawBytes, light[0].StoreCompressedBytes, want.StoreRawBytes, want.StoreCompressedBytes)
	}
}

func TestExpiredBefore(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	put := func(expires time.Time) ID {
		c := smallContinuation("app", s1, StateSuspended)
		c.Expires = expires
		return mustPut(t, s, c).ID
	}
	late := put(base.Add(2 * time.Minute))
	early := put(base)
	put(time.Time{}) // never expires
	mid := put(base.Add(time.Minute))
	cases := []struct {
		name string
		t    time.Time
		want []ID
	}{
		{"zero time", time.Time{}, nil},
		{"before all", base.Add(-time.Nanosecond), nil},
		{"at the first expiry", base, nil}, // before, not at
		{"just after the first", base.Add(time.Nanosecond), []ID{early}},
		{"between", base.Add(90 * time.Second), []ID{early, mid}},
		{"after all", base.Add(time.Hour), []ID{early, mid, late}},
		{"far future", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), []ID{early, mid, late}},
	}
	for _, tc := range cases {
		got, err := s.ExpiredBefore(tc.t)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ExpiredBefore = %v, want %v (soonest first)", tc.name, got, tc.want)
		}
	}
}

func TestStats(t *testing.T) {
	s := newTestStore(t)
	st0, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	s1 := putSession(t, s, "app")
	s2 := putSession(t, s, "app")
	full := mustPut(t, s, fullContinuation("app", s1))
	small := mustPut(t, s, smallContinuation("app", s2, StateSuspending))
	lost := mustPut(t, s, smallContinuation("app", s2, StateSuspended))
	if err := s.Transition(lost.ID, StateSuspended, StateLost); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	wantStates := map[State]int{StateSuspended: 1, StateSuspending: 1, StateLost: 1}
	if st.Continuations != 3 || st.Sessions != 2 || !reflect.DeepEqual(st.ByState, wantStates) {
		t.Errorf("Stats = %d continuations, %d sessions, %v; want 3, 2, %v", st.Continuations, st.Sessions, st.ByState, wantStates)
	}
	raw := int64(full.StoreRawBytes + small.StoreRawBytes + lost.StoreRawBytes)
	packed := int64(full.StoreCompressedBytes + small.StoreCompressedBytes + lost.StoreCompressedBytes)
	if st.StoreRawBytes != raw || st.StoreCompressedBytes != packed {
		t.Errorf("Stats store bytes %d raw, %d compressed; want %d, %d", st.StoreRawBytes, st.StoreCompressedBytes, raw, packed)
	}
	if st.FileBytes < 4*4096 {
		t.Errorf("Stats file %d bytes, want at least the 4 pages of an empty store", st.FileBytes)
	}
	if commits := st.TxID - st0.TxID; commits != 6 {
		t.Errorf("%d commits for 6 writes one after the other, want 6", commits)
	}
}
