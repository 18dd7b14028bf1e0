import re,sys,statistics as st,math
pat=re.compile(r'^nodes ([^:]*?): .*?recv (\d+) dups (\d+) errs (\d+), (\d+) msg/s, \d+ msg/CPU-s, ([\d.]+) us CPU/msg, delivery p50 ([\d.]+) p90 [\d.]+ p99 ([\d.]+) .*?ack p50 ([\d.]+) p99 ([\d.]+) ms, ack->delivery p50 ([\d.]+) p99 ([\d.]+) ms')
def load(files):
    runs=[]
    for f in files:
        d={}
        for l in open(f):
            m=pat.match(l)
            if m and ' run ' not in l.split(':')[0]:
                g=m.groups(); d[g[0]]=dict(recv=int(g[1]),dups=int(g[2]),rate=int(g[4]),cpu=float(g[5]),p50=float(g[6]),p99=float(g[7]),ack99=float(g[9]),ad99=float(g[11]))
        runs.append(d)
    return runs
for label,pat_ in (('before (main 405e6dd library, same harness)','before'),('after (crossnode)','after')):
    files=sorted(f for f in sys.argv[1:] if f'-{pat_}-' in f)
    runs=load(files)
    print(f"{label}: {len(runs)} runs ({', '.join(files)})")
    for s in ['full/postgres','2 nodes/postgres+postgres','2 nodes/postgres+redis','2 nodes/postgres+nats']:
        rs=[r[s] for r in runs if s in r]
        ratios=[r[s]['p99']/r['full/postgres']['p99'] for r in runs if s in r]
        gm=math.exp(st.mean(math.log(x) for x in ratios))
        print(f"  {s:27s} p99 median {st.median(x['p99'] for x in rs):7.0f} ms  ratio to 1 node: median {st.median(ratios):4.1f}x geo-mean {gm:4.1f}x (runs: {' '.join(f'{x:.1f}' for x in ratios)})  ack p99 med {st.median(x['ack99'] for x in rs):6.0f}  ack->deliv p99 med {st.median(x['ad99'] for x in rs):6.0f}  cpu/msg med {st.median(x['cpu'] for x in rs):4.0f} us  delivered/s med {st.median(x['rate'] for x in rs)}  recv {sum(x['recv'] for x in rs)}/{5000*len(rs)} dups {sum(x['dups'] for x in rs)}")
