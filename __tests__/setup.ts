// Adds cdktf's matchers (toHaveResource, toHaveResourceWithProperties, toBeValidTerraform, ...)
// to jest's expect, for every suite; the type import declares them for tsc.
import type {} from "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";

Testing.setupJest();
