import type { Route } from './schema.ts';

/** The route that takes `key`: the longest matching prefix wins, so specific feeds can sit under general ones. */
export function matchRoute(routes: readonly Route[], key: string): Route | undefined {
  let best: Route | undefined;
  for (const route of routes) {
    if (!key.startsWith(route.prefix)) continue;
    if (route.suffix !== undefined && !key.endsWith(route.suffix)) continue;
    if (best === undefined || route.prefix.length > best.prefix.length) best = route;
  }
  return best;
}

export function routeName(route: Route): string {
  return route.name ?? (route.prefix || route.table);
}

/** The byte that separates fields in this route's files: a tab for TSV, the configured delimiter for CSV. */
export function fieldDelimiter(route: Route): string {
  return route.format === 'tsv' ? '\t' : (route.delimiter ?? ',');
}
