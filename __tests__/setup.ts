// Adds cdktf's matchers (toHaveResource, toHaveResourceWithProperties, toBeValidTerraform, ...)
// to jest's expect, for every suite.
import { Testing } from "cdktf";

Testing.setupJest();
