//go:build tools

// Package tools pins Pulumi's go language host, pulumi-language-go, at the last release of the
// github.com/pulumi/pulumi/sdk/v3 module that still contains it (later releases moved it into a module of its
// own, untagged and with replace directives to Pulumi's repository, which cannot be built from the Go module
// proxy). scripts/pulumi-cli.sh builds it from here.
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go"
