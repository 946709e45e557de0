package remote

// SetPageSize makes lists ask for n objects a page until the test ends.
func SetPageSize(n int64) (restore func()) {
	old := pageSize
	pageSize = n
	return func() { pageSize = old }
}
