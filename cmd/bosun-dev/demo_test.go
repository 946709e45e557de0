package main

import (
	"bytes"
	"fmt"
	"testing"
)

// TestLineMux: the builds running side by side in `bosun-dev demo` write to one output, and
// each of their lines comes out whole, however their writes are split and interleaved.
func TestLineMux(t *testing.T) {
	var out bytes.Buffer
	mux := &lineMux{out: &out}
	cluster, istiod := mux.writer(), mux.writer()
	fmt.Fprint(cluster, "cluster-bins: etcd ")
	fmt.Fprint(istiod, "istiod-bins: building")
	fmt.Fprint(cluster, "is up to date\ncluster-bins: kwok")
	fmt.Fprint(istiod, "…\n")
	fmt.Fprint(cluster, " is up to date\n")
	want := "cluster-bins: etcd is up to date\nistiod-bins: building…\ncluster-bins: kwok is up to date\n"
	if out.String() != want {
		t.Errorf("the output is\n%s\nwant\n%s", out.String(), want)
	}
}
