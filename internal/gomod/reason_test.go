package gomod

import "testing"

// TestReasonTable: a failed download or build is reported by the lines that say why, each once, the
// proxy's answer without the module path repeated before it, and never the go command's progress.
func TestReasonTable(t *testing.T) {
	cases := []struct {
		name, output, want string
	}{
		{name: "nothing", output: "", want: ""},
		{name: "progress only", output: "go: downloading example.com/a v1.0.0\ngo: finding module for package example.com/b\n\n", want: ""},
		{name: "import chains are dropped",
			output: "package example.com/prog imports\n\texample.com/lib imports\n\texample.com/missing: cannot find module\n",
			want:   "example.com/missing: cannot find module"},
		{name: "the proxy's answer, once for every module that asked",
			output: "go: example.com/a@v1.0.0: reading https://proxy.golang.org/example.com/x/@v/list: 403 Forbidden\n" +
				"go: example.com/b@v1.2.0: reading https://proxy.golang.org/example.com/x/@v/list: 403 Forbidden\n",
			want: "reading https://proxy.golang.org/example.com/x/@v/list: 403 Forbidden"},
		{name: "surrounding space is trimmed", output: "  \tbuild failed: exit status 2  \r\n", want: "build failed: exit status 2"},
		{name: "three lines are kept whole", output: "a\nb\nc\n", want: "a; b; c"},
		{name: "more are counted", output: "a\nb\nc\nd\ne\na\n", want: "a; b; c; (2 more)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reason(tc.output); got != tc.want {
				t.Errorf("Reason(%q) = %q, want %q", tc.output, got, tc.want)
			}
		})
	}
}
