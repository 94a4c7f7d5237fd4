import { describe, expect, it } from 'vitest';
import { parseRoute } from '../../functions/core/config/parse.ts';
import { matchRoute, routeName } from '../../functions/core/config/routes.ts';
import type { Route } from '../../functions/core/config/schema.ts';

function route(fields: Record<string, unknown>): Route {
  return parseRoute({ table: 'events', format: 'csv', ...fields });
}

describe('matchRoute', () => {
  const all = route({ prefix: '', suffix: '.csv', table: 'everything' });
  const data = route({ prefix: 'data/', table: 'data' });
  const orders = route({ prefix: 'data/orders/', table: 'orders' });
  const gzipped = route({ prefix: 'logs/', suffix: '.ndjson.gz', format: 'ndjson', table: 'logs' });
  const routes = [all, data, orders, gzipped];

  it('picks the longest matching prefix whatever the order of the routes', () => {
    expect(matchRoute(routes, 'data/orders/2024/01.csv')).toBe(orders);
    expect(matchRoute([...routes].reverse(), 'data/orders/2024/01.csv')).toBe(orders);
    expect(matchRoute(routes, 'data/customers/01.csv')).toBe(data);
    expect(matchRoute(routes, 'elsewhere/file.csv')).toBe(all);
  });

  it('applies the suffix filter', () => {
    expect(matchRoute(routes, 'logs/2024/app.ndjson.gz')).toBe(gzipped);
    expect(matchRoute(routes, 'logs/2024/app.ndjson')).toBeUndefined();
    expect(matchRoute(routes, 'elsewhere/file.tsv')).toBeUndefined();
  });

  it('falls back to a shorter prefix when the longer one’s suffix does not match', () => {
    const csvOnly = route({ prefix: 'data/special/', suffix: '.csv', table: 'special' });
    expect(matchRoute([data, csvOnly], 'data/special/x.csv')).toBe(csvOnly);
    expect(matchRoute([data, csvOnly], 'data/special/x.tsv')).toBe(data);
  });

  it('matches prefixes as plain strings, not path segments', () => {
    expect(matchRoute([data], 'data/')).toBe(data);
    expect(matchRoute([data], 'data')).toBeUndefined();
    expect(matchRoute([data], 'Data/x.csv')).toBeUndefined();
    expect(matchRoute([data], 'database/x.csv')).toBeUndefined();
  });

  it('keeps the first of two routes with the same prefix length', () => {
    const first = route({ prefix: 'aa/', table: 'first' });
    const second = route({ prefix: 'ab/', table: 'second' });
    const twin = route({ prefix: 'aa/', table: 'twin' });
    expect(matchRoute([first, second, twin], 'aa/x')).toBe(first);
  });

  it('returns undefined when nothing matches or there are no routes', () => {
    expect(matchRoute([data, orders], 'other/file.csv')).toBeUndefined();
    expect(matchRoute([], 'data/file.csv')).toBeUndefined();
  });
});

describe('routeName', () => {
  it('prefers the name, then the prefix, then the table', () => {
    expect(routeName(route({ name: 'orders-feed', prefix: 'orders/' }))).toBe('orders-feed');
    expect(routeName(route({ prefix: 'orders/' }))).toBe('orders/');
    expect(routeName(route({ prefix: '', suffix: '.csv', table: 'db.orders' }))).toBe('db.orders');
  });
});
