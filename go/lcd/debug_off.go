//go:build !lcddebug

package lcd

const debugGC = false
