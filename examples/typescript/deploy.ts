// Runs the example with the Node Automation API, without a Node.js language host: stack.ts's function is an
// inline program that this process serves to the Pulumi CLI (on PATH).
//
//   node bin/deploy.js <up|preview|refresh|destroy> [--stack NAME] [--work-dir DIR]
//
// DIR (default: this project) holds Pulumi.yaml and the stack's Pulumi.<stack>.yaml config; the backend and
// the secrets passphrase come from the environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE). The last
// line printed is the result as JSON: {"changes": {"create": 3, ...}, "outputs": {...}}, secret outputs as
// "[secret]" (read them with `pulumi stack output --show-secrets`).
import * as fs from "node:fs";
import * as path from "node:path";
import * as auto from "@pulumi/pulumi/automation";
import { imburseStack } from "./stack";

const OPERATIONS = ["up", "preview", "refresh", "destroy"] as const;
type Operation = (typeof OPERATIONS)[number];

interface Args {
    operation: Operation;
    stackName: string;
    workDir: string;
}

function parseArgs(argv: string[]): Args {
    const [operation, ...rest] = argv;
    if (!OPERATIONS.includes(operation as Operation)) {
        throw new Error(`usage: deploy.js <${OPERATIONS.join("|")}> [--stack NAME] [--work-dir DIR]`);
    }
    const args: Args = { operation: operation as Operation, stackName: "dev", workDir: path.resolve(__dirname, "..") };
    for (let i = 0; i < rest.length; i += 2) {
        const [flag, value] = [rest[i], rest[i + 1]];
        if (value === undefined) {
            throw new Error(`${flag} needs a value`);
        } else if (flag === "--stack") {
            args.stackName = value;
        } else if (flag === "--work-dir") {
            args.workDir = path.resolve(value);
        } else {
            throw new Error(`unknown option ${flag}`);
        }
    }
    return args;
}

/** The project name of DIR's Pulumi.yaml (its top-level `name:`). */
function projectName(workDir: string): string {
    const text = fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8");
    const match = /^name:\s*["']?([^"'\s#]+)/m.exec(text);
    if (!match) {
        throw new Error(`${workDir}/Pulumi.yaml has no name`);
    }
    return match[1];
}

function shown(outputs: auto.OutputMap): Record<string, unknown> {
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const stack = await auto.LocalWorkspace.createOrSelectStack(
        { stackName: args.stackName, projectName: projectName(args.workDir), program: async () => imburseStack() },
        { workDir: args.workDir },
    );
    const onOutput = (line: string) => process.stderr.write(line);
    let result: { changes: Record<string, number>; outputs?: Record<string, unknown> };
    switch (args.operation) {
        case "up": {
            const up = await stack.up({ onOutput });
            result = { changes: up.summary.resourceChanges ?? {}, outputs: shown(up.outputs) };
            break;
        }
        case "preview": {
            const preview = await stack.preview({ onOutput });
            result = { changes: preview.changeSummary };
            break;
        }
        case "refresh": {
            const refresh = await stack.refresh({ onOutput });
            result = { changes: refresh.summary.resourceChanges ?? {} };
            break;
        }
        case "destroy": {
            const destroy = await stack.destroy({ onOutput });
            result = { changes: destroy.summary.resourceChanges ?? {} };
            break;
        }
    }
    process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((err: unknown) => {
    process.stderr.write(`deploy.js: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
});
