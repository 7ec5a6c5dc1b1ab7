// Command nvae-sample is part of the NVAE pipeline (see README.md).
package main

import (
	"fmt"
	"os"
)

const usage = `usage: nvae-sample [flags]

This step of the pipeline is not implemented yet; see the project's open issues.
`

func main() {
	for _, a := range os.Args[1:] {
		if a == "-h" || a == "--help" {
			fmt.Print(usage)
			return
		}
	}
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
