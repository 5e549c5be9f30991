// Command imburse-dist: the release-file tests' Go program on the Go SDK module from dist/ (as `go get` resolves
// it), built and run by `pulumi up` through the Go language host: a tenant and two keys; the ci key's roles come
// from stack config ciRoles (comma-separated).
package main

import (
	"strings"

	"github.com/pulumi-imburse/pulumi-imburse/sdk/go/imburse"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
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
	})
}
