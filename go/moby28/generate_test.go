package moby28

import (
	"os/exec"
	"testing"
)

// go/moby27's and go/moby29's copies of client.go (and moby27's of the tests) are what
// generate.sh makes of this package's: the three versions' conversions stay one source.
func TestGeneratedCopiesAreUpToDate(t *testing.T) {
	if out, err := exec.Command("bash", "generate.sh", "--check").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}
