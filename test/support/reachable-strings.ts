// Every string an error carries, so leak tests can prove no address or code hides anywhere in it.

/** Every string reachable from a value: message, stack, name, own properties, causes, recursively. */
export function reachableStrings(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  const out: string[] = [];
  if (value instanceof Error) out.push(value.name, value.message, value.stack ?? '');
  for (const key of Reflect.ownKeys(value)) out.push(...reachableStrings((value as Record<PropertyKey, unknown>)[key], seen));
  return out;
}
