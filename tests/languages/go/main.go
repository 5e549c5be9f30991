// Command deploy runs a Go Pulumi program on the generated Go SDK (sdk/go/imburse) as an inline program of the
// Go Automation API, so no Go language host is needed:
//
//	deploy <up|preview|destroy> [-stack NAME] [-work-dir DIR]
//
// DIR holds Pulumi.yaml (the project name) and the stack's config; the backend and the secrets passphrase come
// from the environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE). The last line printed is the result as
// JSON: {"changes": {"create": 3, ...}}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/pulumi-imburse/pulumi-imburse/sdk/go/imburse"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// program declares a tenant and a key. Stack config: ciRoles (list; default [tenant-transaction-read]) changes
// the key in place, ciKeyEpoch (default "1") replaces it.
func program(ctx *pulumi.Context) error {
	cfg := config.New(ctx, "")
	roles := []string{"tenant-transaction-read"}
	if err := cfg.GetObject("ciRoles", &roles); err != nil { // left as it is when not set
		return err
	}
	epoch := cfg.Get("ciKeyEpoch")
	if epoch == "" {
		epoch = "1"
	}
	tenant, err := imburse.NewTenant(ctx, "acme", &imburse.TenantArgs{
		Name:    pulumi.String("Acme Payments Ltd (Go)"),
		Address: &imburse.TenantAddressArgs{Country: pulumi.String("GB")},
	})
	if err != nil {
		return err
	}
	roleInputs := imburse.TenantRoleArray{}
	for _, role := range roles {
		roleInputs = append(roleInputs, imburse.TenantRole(role))
	}
	key, err := imburse.NewTenantKey(ctx, "acme-ci", &imburse.TenantKeyArgs{
		TenantId: tenant.TenantId,
		Roles:    roleInputs,
		Keepers:  pulumi.StringMap{"epoch": pulumi.String(epoch)},
	})
	if err != nil {
		return err
	}
	ctx.Export("tenantId", tenant.TenantId)
	ctx.Export("ciPublicKey", key.PublicKey)
	ctx.Export("ciPrivateKey", key.PrivateKey)
	return nil
}

func projectName(workDir string) (string, error) {
	text, err := os.ReadFile(filepath.Join(workDir, "Pulumi.yaml"))
	if err != nil {
		return "", err
	}
	match := regexp.MustCompile(`(?m)^name:\s*["']?([^"'\s#]+)`).FindSubmatch(text)
	if match == nil {
		return "", fmt.Errorf("%s/Pulumi.yaml has no name", workDir)
	}
	return string(match[1]), nil
}

func run(operation, stackName, workDir string) (map[string]int, error) {
	ctx := context.Background()
	name, err := projectName(workDir)
	if err != nil {
		return nil, err
	}
	stack, err := auto.UpsertStackInlineSource(ctx, stackName, name, program, auto.WorkDir(workDir))
	if err != nil {
		return nil, err
	}
	changes := map[string]int{}
	switch operation {
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
		for op, n := range res.ChangeSummary {
			changes[string(op)] = n
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
		return nil, fmt.Errorf("usage: deploy <up|preview|destroy> [-stack NAME] [-work-dir DIR]")
	}
	return changes, nil
}

func main() {
	stackName := flag.String("stack", "dev", "the stack")
	workDir := flag.String("work-dir", ".", "the project directory (Pulumi.yaml and the stack's config)")
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: deploy <up|preview|destroy> [-stack NAME] [-work-dir DIR]")
		os.Exit(2)
	}
	flag.CommandLine.Parse(os.Args[2:]) //nolint:errcheck // ExitOnError
	changes, err := run(os.Args[1], *stackName, *workDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "deploy: %v\n", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(map[string]any{"changes": changes})
	fmt.Println(string(out))
}
