import re,sys
pat=re.compile(r'^nodes ([^:]*?)(?: run \d+)?: .*?recv (\d+) dups (\d+) errs (\d+), (\d+) msg/s, \d+ msg/CPU-s, ([\d.]+) us CPU/msg, delivery p50 ([\d.]+) p90 [\d.]+ p99 ([\d.]+) .*?ack p50 ([\d.]+) p99 ([\d.]+) ms, ack->delivery p50 ([\d.]+) p99 ([\d.]+) ms')
for f in sys.argv[1:]:
    L=open(f).read().splitlines()
    la=[l for l in L if l.startswith('# loadavg')]
    print(f"== {f}  load {la[0].split(':',1)[1].split()[0]} .. {la[-1].split(':',1)[1].split()[0]}")
    one=None
    for l in L:
        if ' run ' in l.split(':')[0] and not '-repeat 1' in L[0]: pass
        m=pat.match(l)
        if not m or ' run ' in l.split(':')[0]: continue
        name,recv,dups,errs,rate,cpu,p50,p99,ap50,ap99,adp50,adp99=m.groups()
        if name=='full/postgres': one=(float(p99),float(adp99))
        r=''
        if one and name.startswith('2 nodes'): r=f"ratio {float(p99)/one[0]:.1f}x"
        print(f"  {name:27s} recv {recv} dups {dups} {rate:>3s}/s cpu {float(cpu):6.0f}us  p50 {float(p50):8.1f} p99 {float(p99):8.1f}  ack p99 {float(ap99):8.1f}  ack->deliv p99 {float(adp99):7.1f}  {r}")
    for l in L:
        if l.startswith('chatload:'): print('  '+l)
