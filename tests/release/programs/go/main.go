// Command deploy: the release-file tests' Go program on the Go SDK module from dist/ (as `go get` resolves it),
// run as an inline program of the Go Automation API:
//
//	deploy <up|preview|destroy> STACK WORK_DIR
//
// A tenant and two keys; the ci key's roles come from stack config ciRoles (comma-separated). Prints the change
// counts as JSON on its last line.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/pulumi-imburse/pulumi-imburse/sdk/go/imburse"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func program(ctx *pulumi.Context) error {
	roles := imburse.TenantRoleArray{}
	for _, role := range strings.Split(config.Require(ctx, "ciRoles"), ",") {
		roles = append(roles, imburse.TenantRole(role))
	}
	acme, err := imburse.NewTenant(ctx, "acme", &imburse.TenantArgs{
		Name:    pulumi.String("Acme Payments Ltd (dist, Go)"),
		Address: &imburse.TenantAddressArgs{Country: pulumi.String("GB")},
	})
	if err != nil {
		return err
	}
	ci, err := imburse.NewTenantKey(ctx, "ci", &imburse.TenantKeyArgs{TenantId: acme.TenantId, Roles: roles})
	if err != nil {
		return err
	}
	ops, err := imburse.NewTenantKey(ctx, "ops", &imburse.TenantKeyArgs{
		TenantId: acme.TenantId, Roles: imburse.TenantRoleArray{imburse.TenantRoleTenantAppRead},
	})
	if err != nil {
		return err
	}
	ctx.Export("tenantId", acme.TenantId)
	ctx.Export("ciPublicKey", ci.PublicKey)
	ctx.Export("opsPublicKey", ops.PublicKey)
	return nil
}

func run(op, stackName, workDir string) (map[string]int, error) {
	ctx := context.Background()
	ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(workDir), auto.Program(program))
	if err != nil {
		return nil, err
	}
	stack, err := auto.SelectStack(ctx, stackName, ws)
	if err != nil {
		return nil, err
	}
	changes := map[string]int{}
	switch op {
	case "up":
		res, err := stack.Up(ctx, optup.ProgressStreams(os.Stderr))
		if err != nil {
			return nil, err
		}
		if res.Summary.ResourceChanges != nil {
			changes = *res.Summary.ResourceChanges
		}
	case "preview":
		res, err := stack.Preview(ctx, optpreview.ProgressStreams(os.Stderr))
		if err != nil {
			return nil, err
		}
		for kind, n := range res.ChangeSummary {
			changes[string(kind)] = n
		}
	case "destroy":
		res, err := stack.Destroy(ctx, optdestroy.ProgressStreams(os.Stderr))
		if err != nil {
			return nil, err
		}
		if res.Summary.ResourceChanges != nil {
			changes = *res.Summary.ResourceChanges
		}
	default:
		return nil, fmt.Errorf("usage: deploy <up|preview|destroy> STACK WORK_DIR")
	}
	return changes, nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: deploy <up|preview|destroy> STACK WORK_DIR")
		os.Exit(2)
	}
	changes, err := run(os.Args[1], os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.Marshal(map[string]any{"changes": changes})
	fmt.Println(string(out))
}
