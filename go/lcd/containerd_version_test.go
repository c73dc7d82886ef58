package lcd

import (
	"os"
	"strings"
)

// isTestBedContainerdVersion reports whether a version string from containerd's Version call is
// the test bed's containerd. LCD_CONTAINERD_VERSION (set by tests/testbed.sh) is "1.6" for
// Debian's package, which reports "1.6.20~ds1", or "1.7.N" / "2.N.M" for the test bed's own
// builds, which report "v1.7.N" / "v2.N.M" as upstream's releases do. Without it, any 1.x or 2.x.
func isTestBedContainerdVersion(version string) bool {
	switch wanted := os.Getenv("LCD_CONTAINERD_VERSION"); wanted {
	case "":
		v := strings.TrimPrefix(version, "v")
		return strings.HasPrefix(v, "1.") || strings.HasPrefix(v, "2.")
	case "1.6":
		return strings.HasPrefix(version, "1.6.")
	default:
		return version == "v"+wanted
	}
}
