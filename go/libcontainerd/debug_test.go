//go:build lcddebug

package libcontainerd

// collectsOnEveryCall: the lcddebug tag makes package lcd run a garbage collection on every
// handle use.
const collectsOnEveryCall = true
