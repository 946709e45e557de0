// Package bench measures bosun's operator as users run it. bosun-operator, built from this tree, runs
// as a process of its own against the cluster in a box (internal/testcluster), with leader election on
// as in production, so that its memory (VmRSS and VmHWM of /proc/<pid>/status) and CPU time
// (/proc/<pid>/stat) are the operator's alone, and its API writes are read from its own metrics
// endpoint (bosun_api_writes_total).
//
// The measurements are Go benchmarks, so that `make bench` runs them beside the package benchmarks and
// their figures come out in the benchmark format that benchstat compares between runs. Each benchmark
// measures once (run them with -benchtime 1x), reports its figures with b.ReportMetric, units naming
// the figure, and suppresses ns/op, which would only be the benchmark's own duration. Progress of the
// slow parts goes to standard error as it happens, and a table of every figure beside its target and
// the reference operator's figure ends the run. docs/performance.md records the figures and the method.
//
// The latency benchmarks time each lifecycle step 20 times with the operator and 20 times without it,
// against its floor (floor_test.go): the objects `bosun render` prints, applied by the benchmark until
// the workload they make has rolled out. They print the operator's time per step by phase, from
// bosun_reconcile_phase_seconds and workqueue_queue_duration_seconds.
//
// Without -bench no benchmark runs, nothing is built and no cluster starts: `go test ./...` passes
// through this package in well under a second.
package bench
