// Command spec_decoder decodes runtime-spec documents with Go's encoding/json into
// github.com/opencontainers/runtime-spec's specs.Spec, as containerd and runc do, and prints
// the fields libcontainerd-ffi reads from a spec, one line per file named on the command
// line: "error" when Go refuses the document, otherwise the fields. tests/spec_reader.rs
// compares the library's reading of the same documents with these lines.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func mappings(m []specs.LinuxIDMapping) string {
	parts := []string{}
	for _, x := range m {
		parts = append(parts, fmt.Sprintf("%d:%d:%d", x.ContainerID, x.HostID, x.Size))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func main() {
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var spec specs.Spec
		if err := json.Unmarshal(data, &spec); err != nil {
			fmt.Println("error")
			continue
		}
		terminal := spec.Process != nil && spec.Process.Terminal
		namespaces, uids, gids := []string{}, "[]", "[]"
		if spec.Linux != nil {
			for _, ns := range spec.Linux.Namespaces {
				namespaces = append(namespaces, fmt.Sprintf("%q", string(ns.Type)))
			}
			uids, gids = mappings(spec.Linux.UIDMappings), mappings(spec.Linux.GIDMappings)
		}
		fmt.Printf("terminal=%t namespaces=[%s] uids=%s gids=%s\n", terminal, strings.Join(namespaces, ","), uids, gids)
	}
}
