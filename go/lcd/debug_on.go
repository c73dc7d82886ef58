//go:build lcddebug

package lcd

// debugGC forces a collection on every handle access under `-tags lcddebug`, so a missing
// KeepAlive or a handle freed by its finalizer while still in use shows up at once.
const debugGC = true
