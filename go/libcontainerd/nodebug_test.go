//go:build !lcddebug

package libcontainerd

// collectsOnEveryCall: without the lcddebug tag package lcd collects only as usual.
const collectsOnEveryCall = false
