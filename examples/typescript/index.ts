// The Pulumi program for `pulumi up` with the Node.js language host (Pulumi.yaml: main: bin/index.js):
// the stack's outputs are this module's exports.
import { imburseStack } from "./stack";

export = imburseStack();
