package main

import (
	"testing"
	"testing/fstest"
)

func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{
			name: "cgroup v2 in a container's own namespace",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "67108864\n",
			},
			want: 64 << 20,
		},
		{
			name: "cgroup v2, the group's path mounted",
			files: map[string]string{
				"proc/self/cgroup":                          "0::/kubepods/pod1/c1\n",
				"sys/fs/cgroup/kubepods/pod1/c1/memory.max": "134217728\n",
				"sys/fs/cgroup/memory.max":                  "max\n",
			},
			want: 128 << 20,
		},
		{
			name: "cgroup v2 without a limit",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "max\n",
			},
		},
		{
			name: "cgroup v1",
			files: map[string]string{
				"proc/self/cgroup": "5:cpu,cpuacct:/\n4:memory:/kubepods/pod1\n0::/\n",
				"sys/fs/cgroup/memory/kubepods/pod1/memory.limit_in_bytes": "100663296\n",
			},
			want: 96 << 20,
		},
		{
			name: "cgroup v1 without a limit",
			files: map[string]string{
				"proc/self/cgroup":                           "4:memory:/\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
			},
		},
		{
			name:  "no cgroups",
			files: map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fstest.MapFS{}
			for name, data := range tc.files {
				root[name] = &fstest.MapFile{Data: []byte(data)}
			}
			if got := cgroupMemoryLimit(root); got != tc.want {
				t.Errorf("cgroupMemoryLimit = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSetMemoryLimitRefusesNonsense(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	for _, value := range []string{"lots", "-64Mi", "0"} {
		if _, err := setMemoryLimit(value); err == nil {
			t.Errorf("--memory-limit %s was accepted", value)
		}
	}
}

func TestSoftLimitLeavesRoomForTheBinary(t *testing.T) {
	const mi = 1 << 20
	for limit, want := range map[int64]int64{
		48 * mi:   24 * mi,  // half: never less
		64 * mi:   32 * mi,  // the binary's reserve
		96 * mi:   64 * mi,  // the binary's reserve
		128 * mi:  96 * mi,  // the binary's reserve
		1000 * mi: 900 * mi, // a tenth
	} {
		if got := softLimit(limit); got != want {
			t.Errorf("softLimit(%dMi) = %.1fMi, want %.1fMi", limit/mi, float64(got)/mi, float64(want)/mi)
		}
	}
}
