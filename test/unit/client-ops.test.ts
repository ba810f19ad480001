// The client's op schema table must be exactly the VM's: same modules, same ops, the very same args schemas.
import { describe, expect, it } from 'vitest';
import { allModules } from '../../src/vm/registry.js';
import { OP_SCHEMAS, type OpSchemas } from '../../src/client/ops.js';

describe('OP_SCHEMAS', () => {
  const table = OP_SCHEMAS as OpSchemas;
  it('holds every op of every VM module with the schema the VM decodes its args with', () => {
    for (const m of allModules()) {
      for (const [op, def] of Object.entries(m.ops)) {
        expect(table[m.name]?.[op], `${m.name}.${op}`).toBe(def.args);
      }
    }
  });

  it('holds no op the VM does not have', () => {
    const modules = new Map(allModules().map((m) => [m.name, m]));
    for (const [name, ops] of Object.entries(table)) {
      for (const op of Object.keys(ops)) expect(modules.get(name)?.ops[op], `${name}.${op}`).toBeDefined();
    }
  });
});
