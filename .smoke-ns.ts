import { NamespaceLearner, parseRedisStatement } from './src/cache-keys';
const l = new NamespaceLearner({ delimiters: ':', learnDistinct: 8, patterns: ['sess:**'], maxLearnedPrefixes: 10000 });
l.onMerge((a, b) => console.log('  merge', a, '->', b));
for (const k of ['user:42:profile', 'user:43:profile', 'session:9f8e7d6c-1234-4abc-9def-0123456789ab', 'rate:alice@example.com', 'cart:AbX9kQ', 'feed:v2:user:17', 'cache:/api/items?page=3', 'leaderboard', '12345', 'sess:abc:def', 'a:b:c:d:e:f:g:h:i:j'])
  console.log(k, '=>', l.namespaceOf(k));
for (const slug of ['blue-widget', 'red-widget', 'green-gadget', 'a', 'b', 'c', 'd', 'e']) console.log(slug, l.namespaceOf(`product:${slug}`), l.namespaceOf(`product:${slug}:reviews`));
console.log('9th', l.namespaceOf('product:ninth'), l.namespaceOf('product:blue-widget:reviews'), l.learnedPrefixes);
for (const t of ['get user:1', 'mget a b c', 'set session:x [1 other arguments]', 'hget h:1 field', 'HMGET h:2 f1 f2', 'mset k1 [3 other arguments]', 'evalsha abc 2 k1 k2 a', 'eval return redis.call(1) 1 rl:1 10', 'xread COUNT 2 STREAMS s1 s2 0 0', 'mget [3 other arguments]', 'ping']) console.log(t, JSON.stringify(parseRedisStatement(t)));
