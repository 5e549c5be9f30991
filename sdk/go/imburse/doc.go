// Imburse tenants and tenant API keys as code: a native provider for every Pulumi language.
package imburse
