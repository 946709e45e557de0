package remote

import "github.com/bosun-mesh/bosun/internal/podmeta"

// SetPageSize makes lists ask for n objects a page until the test ends.
func SetPageSize(n int64) (restore func()) {
	old := podmeta.PageSize
	podmeta.PageSize = n
	return func() { podmeta.PageSize = old }
}
