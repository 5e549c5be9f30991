// Command codegen-host is the SDK generator half of Pulumi's nodejs, go and python language hosts, for
// `pulumi package gen-sdk` on machines where those hosts cannot be installed.
//
// `pulumi package gen-sdk --language L` binds the schema and asks the language plugin `pulumi-language-L`
// (found on PATH) to write the SDK: LanguageRuntime.GeneratePackage. Pulumi's language hosts are nested Go
// modules that the Go module proxy does not serve, so `make sdks` builds this program, links it as
// pulumi-language-{nodejs,go,python} in a directory of its own (.tools/codegen, put on PATH for gen-sdk
// only), and the CLI runs it. GeneratePackage does what the real hosts do: bind the schema with the CLI's
// schema loader and call Pulumi's own code generator for the language (github.com/pulumi/pulumi/pkg/v3/
// codegen/{nodejs,go,python}, at the CLI's version), under the real host's tool name, so the generated files
// are those the real host writes. Every other LanguageRuntime call answers Unimplemented: this is not a
// language host for running programs, and it is never on PATH when programs run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const hostPrefix = "pulumi-language-"

// generators: for each language, Pulumi's code generator called as its language host calls it.
var generators = map[string]func(req *pulumirpc.GeneratePackageRequest, pkg *schema.Package,
	loader schema.ReferenceLoader) (map[string][]byte, error){
	"nodejs": func(req *pulumirpc.GeneratePackageRequest, pkg *schema.Package,
		loader schema.ReferenceLoader,
	) (map[string][]byte, error) {
		return nodejs.GeneratePackage(hostPrefix+"nodejs", pkg, req.ExtraFiles, req.LocalDependencies, req.Local,
			loader)
	},
	"go": func(req *pulumirpc.GeneratePackageRequest, pkg *schema.Package,
		_ schema.ReferenceLoader,
	) (map[string][]byte, error) {
		if len(req.ExtraFiles) > 0 {
			return nil, errors.New("overlays are not supported for Go")
		}
		return gogen.GeneratePackage(hostPrefix+"go", pkg, req.LocalDependencies)
	},
	"python": func(req *pulumirpc.GeneratePackageRequest, pkg *schema.Package,
		loader schema.ReferenceLoader,
	) (map[string][]byte, error) {
		return python.GeneratePackage(hostPrefix+"python", pkg, req.ExtraFiles, loader)
	},
}

type codegenHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	language string
}

// GetPluginInfo answers the version of Pulumi's code generator built in (the pkg/v3 module's).
func (h *codegenHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/pulumi/pulumi/pkg/v3" {
				return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(dep.Version, "v")}, nil
			}
		}
	}
	return &pulumirpc.PluginInfo{}, nil
}

func (h *codegenHost) GeneratePackage(
	_ context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	client, err := schema.NewLoaderClient(req.LoaderTarget)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	loader := schema.NewCachedLoader(client)

	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.Schema), &spec); err != nil {
		return nil, err
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	rpcDiagnostics := plugin.HclDiagnosticsToRPCDiagnostics(diags)
	if diags.HasErrors() {
		return &pulumirpc.GeneratePackageResponse{Diagnostics: rpcDiagnostics}, nil
	}
	files, err := generators[h.language](req, pkg, loader)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		out := filepath.Join(req.Directory, name)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, fmt.Errorf("could not create output directory %s: %w", filepath.Dir(name), err)
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return nil, fmt.Errorf("could not write output file %s: %w", name, err)
		}
	}
	return &pulumirpc.GeneratePackageResponse{Diagnostics: rpcDiagnostics}, nil
}

func main() {
	// The flags every language host is started with; none matters to code generation.
	flag.String("tracing", "", "ignored")
	flag.String("root", "", "ignored")
	flag.Bool("binary", false, "ignored")
	flag.Parse()

	name := filepath.Base(os.Args[0])
	language := strings.TrimPrefix(name, hostPrefix)
	if _, ok := generators[language]; !ok || language == name {
		fmt.Fprintf(os.Stderr, "%s: run me as %s{nodejs,go,python} (a link of that name)\n", name, hostPrefix)
		os.Exit(2)
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &codegenHost{language: language})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: could not start the RPC server: %v\n", name, err)
		os.Exit(1)
	}
	// The port on stdout tells the CLI where to reach us.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "%s: stopped serving: %v\n", name, err)
		os.Exit(1)
	}
}
