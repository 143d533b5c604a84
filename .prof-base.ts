const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
const texts = Array.from({ length: 1000 }, (_, i) => `SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = ${i} AND o.status = 'shipped' ORDER BY o.created_at DESC LIMIT ${i % 100}`);
let x = 0;
for (let r = 0; r < 4; r++) {
  let s = cpu();
  for (let k = 0; k < 200; k++) for (const t of texts) { for (let i = 0; i < t.length; i++) x += t.charCodeAt(i) === 39 ? 1 : 0; }
  const loop = (cpu() - s) / 200000;
  s = cpu();
  for (let k = 0; k < 200; k++) for (const t of texts) { let o = ''; for (let i = 0; i < t.length; i += 8) o += t.slice(i, i + 7); x += o.length; }
  const cat = (cpu() - s) / 200000;
  s = cpu();
  const m = new Map<string, number>(); 
  for (let k = 0; k < 200; k++) for (const t of texts) { x += m.get(t.slice(1)) ?? 0; }
  const mg = (cpu() - s) / 200000;
  console.log(`loop ${loop.toFixed(2)} concat20 ${cat.toFixed(2)} slice+get ${mg.toFixed(2)}`);
}
console.log(x > 0);
