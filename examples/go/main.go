// A Pulumi program in Go on the generated Go SDK (sdk/go/imburse): a tenant and a key, run by `pulumi up`
// with the Go language host.
//
// Stack config (namespace imburse-go): ciRoles (list; default [tenant-transaction-read]) changes the key's
// roles in place; ciKeyEpoch (default "1") replaces (rotates) it. The default provider takes the account from
// imburse:* config or the IMBURSE_* variables.
package main

import (
	"github.com/pulumi-imburse/pulumi-imburse/sdk/go/imburse"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		// Roles are imburse.TenantRole values: the SDK's constants, or strings from config.
		roles := imburse.TenantRoleArray{imburse.TenantRoleTenantTransactionRead}
		var configured []string
		if err := cfg.TryObject("ciRoles", &configured); err == nil {
			roles = imburse.TenantRoleArray{}
			for _, role := range configured {
				roles = append(roles, imburse.TenantRole(role))
			}
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
		key, err := imburse.NewTenantKey(ctx, "acme-ci", &imburse.TenantKeyArgs{
			TenantId: tenant.TenantId,
			Roles:    roles,
			Keepers:  pulumi.StringMap{"epoch": pulumi.String(epoch)},
		})
		if err != nil {
			return err
		}
		ctx.Export("tenantId", tenant.TenantId)
		ctx.Export("ciPublicKey", key.PublicKey)
		ctx.Export("ciPrivateKey", key.PrivateKey) // a secret
		return nil
	})
}
