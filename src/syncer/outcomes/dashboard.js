// The dashboard's script (vanilla JS, no network): renders every widget from the embedded JSON
// (dashboard_data.py) for the current filter, kept in the URL hash (#segment=smb&owner=...&account=...),
// so a filtered view or a drill-down can be linked. Every widget reads the same filtered alert and
// account sets, so segment, plan tier and owner apply everywhere.
(function(){
const D=JSON.parse(document.getElementById('report-data').textContent);
const KEYS=['segment','tier','owner'];
const $=id=>document.getElementById(id);
const esc=s=>String(s==null?'':s).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'})[c]);
const money=v=>Math.abs(v)>=1e6?'$'+(v/1e6).toFixed(2)+'M':Math.abs(v)>=1e3?'$'+(v/1e3).toFixed(0)+'K':'$'+Math.round(v);
const pct=v=>v==null?'–':Math.round(100*v)+'%';
const trig=t=>{const i=D.triggers.indexOf(t);return i>=0?D.trigger_labels[i]:String(t).replace(/_/g,' ');};  // wording.readable
const dayStr=d=>new Date(d*864e5).toISOString().slice(0,10);
const quarter=d=>{const t=new Date(d*864e5);return t.getUTCFullYear()+'-Q'+(Math.floor(t.getUTCMonth()/3)+1);};
function wilson(k,n){if(!n)return [0,1];const z=1.96,p=k/n,den=1+z*z/n,c=(p+z*z/(2*n))/den,
  h=z*Math.sqrt(p*(1-p)/n+z*z/(4*n*n))/den;return [Math.max(0,c-h),Math.min(1,c+h)];}
function parse(){const o={};location.hash.replace(/^#/,'').split('&').forEach(p=>{const i=p.indexOf('=');
  if(i>0)o[decodeURIComponent(p.slice(0,i))]=decodeURIComponent(p.slice(i+1));});return o;}
function write(f){location.hash=Object.entries(f).filter(([,v])=>v).map(([k,v])=>
  encodeURIComponent(k)+'='+encodeURIComponent(v)).join('&');}
function select(){const f=parse();const want={segment:D.segments.indexOf(f.segment),tier:D.tiers.indexOf(f.tier),
  owner:D.owners.indexOf(f.owner)};
  const ok=D.accounts.map(a=>(!f.segment||a[2]===want.segment)&&(!f.tier||a[3]===want.tier)&&(!f.owner||a[4]===want.owner));
  return {f,ok,alerts:D.alerts.map((a,i)=>[a,i]).filter(([a])=>a[0]>=0&&ok[a[0]])};}
// Charts are drawn at their container's width in CSS pixels (1 unit = 1 px), so chart text stays 11.5 px on a
// phone instead of being scaled down with a fixed viewBox; below NARROW px a label goes on its own line above its
// bar. A label that still does not fit is cut with "…" and keeps its full text in a <title> (a tooltip).
const NARROW=440,CHAR=6.8;
function widthOf(id,fallback){const box=$(id);return Math.max(240,Math.floor((box&&box.clientWidth)||fallback||520));}
function fit(text,room){const t=String(text),n=Math.max(4,Math.floor(room/CHAR));return t.length<=n?[t,false]:[t.slice(0,n-1)+'…',true];}
function label(x,y,text,room,attrs){const [shown,cut]=fit(text,room);
  return `<text x="${x}" y="${y}"${attrs||''}>${cut?`<title>${esc(text)}</title>`:''}${esc(shown)}</text>`;}
function bars(id,label_,rows,opts){opts=opts||{};const W=opts.width||520,stack=W<NARROW,H=24,R=stack?2*H-6:H;
  const L=stack?0:190,B=Math.max(40,W-L-(stack?0:8)-130);const top=Math.max(1,...rows.map(r=>r[1]));
  let s=`<svg id="${id}" viewBox="0 0 ${W} ${R*rows.length+6}" role="img" aria-label="${esc(label_)}">`;
  rows.forEach((r,i)=>{const y=4+i*R+(stack?H-6:0),w=B*r[1]/top,grey=r[3];
    s+=(stack?label(0,y-4,r[0],W):label(L-8,y+14,r[0],L-12,' text-anchor="end"'))+
      `<rect x="${L}" y="${y+3}" width="${w.toFixed(1)}" height="${H-9}" rx="3" fill="${grey?'#d0d5dd':(r[4]||opts.color||'#3b6fd8')}"`+
      (opts.attr?` data-${opts.attr}="${esc(r[0])}"`:'')+`/>`+
      `<text x="${L+w+6}" y="${y+14}"${opts.attr?` id="${opts.attr}-${esc(r[0])}"`:''}>${esc(r[2])}</text>`;});
  return s+'</svg>';}
function spark(vals,w,h){if(!vals||vals.length<2)return '<span class="muted">no usage</span>';
  const top=Math.max(...vals,1),low=Math.min(...vals);const pts=vals.map((v,i)=>
  `${(2+(w-4)*i/(vals.length-1)).toFixed(1)},${(h-2-(h-4)*(v-low)/Math.max(1e-9,top-low)).toFixed(1)}`).join(' ');
  const up=vals[vals.length-1]>=vals[0];
  return `<svg class="spark" width="${w}" height="${h}" role="img" aria-label="DAU trend ${up?'up':'down'}">`+
    `<polyline points="${pts}" fill="none" stroke="${up?'#1f7a4d':'#b42318'}" stroke-width="1.6"/></svg>`;}
function kpi(title,value,sub,state){return `<div class="card kpi ${state}"><h2>${esc(title)}</h2><b>${value}</b>`+
  `<span>${sub}</span></div>`;}
// the verdicts are the report's (Kpis.met in effectiveness.py, the same `syncer report` prints); a filtered
// view recounts its own figures with the same rules, the revenue target stays whole-book
function kpis(S){const T=D.targets,K=D.kpis,filtered=KEYS.some(k=>S.f[k]);let mat=0,conv=0,met=0,due=0,pend=0;const hours=[];
  for(const [a] of S.alerts){const matured=a[2]+D.window_days<=D.today;
    if(matured){mat++;if(a[6]>0)conv++;}
    // Kpis.met's rule: every due high alert with a task, one never worked (or whose task was rejected) = never
    if(a[11]===0&&['pending','open','completed','rejected'].includes(D.tasks[a[10]])){if(a[5]==null)pend++;else{due++;if(a[5])met++;
      hours.push(a[4]!=null?a[4]:Infinity);}}}
  hours.sort((x,y)=>x-y);const n=hours.length;
  const med0=filtered?(n?(n%2?hours[(n-1)/2]:(hours[n/2-1]+hours[n/2])/2):null):K.high_median_hours_to_action;
  const med=med0!=null&&isFinite(med0)?med0:null;
  const rate=mat?conv/mat:null;const ci=wilson(conv,mat);
  const verdict=v=>v==null?'na':v?'ok':'bad';
  const M=filtered?{revenue:null,alert_to_conversion:rate==null||mat<D.min_matured?null:rate>T.conversion,
    time_to_action:due<D.min_due?null:med!=null&&med<T.action_hours,trigger_accuracy:K.met.trigger_accuracy}:K.met;
  $('kpis').innerHTML=
   kpi(`Expansion ARR from alerts (${K.revenue_quarter} to date)`,money(K.revenue_quarter_to_date),
     (filtered?'whole book (the target is for the whole book): ':'')+
       `target ${money(K.revenue_due_to_date)} by now (${money(T.revenue_arr_per_quarter)} a quarter, prorated by the days gone)`,
     verdict(K.met.revenue))+
   kpi('Alert to conversion',pct(rate),mat?`95% CI ${pct(ci[0])}–${pct(ci[1])} on ${mat} matured alerts; target &gt; ${pct(T.conversion)}`:
     `not enough data yet: no alert has finished its ${D.window_days}-day window`,verdict(M.alert_to_conversion))+
   kpi('High alerts: median time to action',med==null?(due?'never':'–'):med.toFixed(1)+' h',due+pend?`fired → CRM task completed; `+
     `${met} of ${due} due worked within ${D.sla_hours.high||T.action_hours} h (${pct(due?met/due:null)})`+
     (pend?`; ${pend} not yet due`:'')+`; target median &lt; ${T.action_hours} h`:
     'not enough data yet: no high alert with a task',verdict(M.time_to_action))+
   kpi('Trigger accuracy',pct(D.kpis.trigger_accuracy),`matured alerts whose account expanded (whole book); target &gt; ${pct(T.accuracy)}`,
     verdict(M.trigger_accuracy));
  document.body.dataset.conversion=rate==null?'':rate.toFixed(4);document.body.dataset.matured=mat;}
// an owner's name where the warehouse knows it (accounts.owner_name), else the email; "1 account", "2 accounts"
function ownerName(i){return (D.owner_names||[])[i]||D.owners[i]||'';}
// segments and plan tiers as readers say them ("mid-market", "SMB"); the raw values stay the filter keys
function segmentLabel(i){return (D.segment_labels||[])[i]||D.segments[i]||'';}
function tierLabel(i){return (D.tier_labels||[])[i]||D.tiers[i]||'';}
function plural(n,word,many){return `${n} ${n===1?word:(many||word+'s')}`;}
function callToday(S){const T={};for(const [a,i] of S.alerts){if(!a[9]||D.stages[a[3]]!=="open")continue;const acc=a[0];
    (T[acc]=T[acc]||{ev:0,alerts:[]}).ev+=a[9];T[acc].alerts.push(i);}
  const byOwner={};Object.entries(T).forEach(([acc,t])=>{const o=D.accounts[acc][4];(byOwner[o]=byOwner[o]||[]).push([+acc,t]);});
  const owners=Object.entries(byOwner).map(([o,l])=>[o,l.sort((x,y)=>y[1].ev-x[1].ev),l.reduce((s,x)=>s+x[1].ev,0)])
    .sort((x,y)=>y[2]-x[2]);const shown=owners.slice(0,S.f.owner?1:6);
  if(!shown.length){$('call').innerHTML='<p class="muted">Nobody to call: no open alert in this view.</p>';return;}
  $('call').innerHTML=shown.map(([o,list,total])=>`<section class="owner"><h3>${esc(ownerName(o)||'(no owner)')} `+
   `<span class="muted">${plural(list.length,'account')}, ${money(total)} expected</span></h3><ol>`+list.slice(0,4).map(([acc,t])=>{
    const A=D.accounts[acc];const top=t.alerts.map(i=>D.alerts[i]).sort((x,y)=>y[9]-x[9])[0];const trigName=D.triggers[top[1]];
    const def=D.trigger_defs[trigName]||{};const task=D.tasks[top[10]];
    return `<li class="call" data-account="${esc(A[0])}" data-ev="${Math.round(t.ev)}"><div class="who"><button class="link" data-open="${esc(A[0])}">${esc(A[1])}</button>`+
     `<b>${money(t.ev)}</b></div><div class="why">${esc(trig(trigName))}: ${esc(top[12])}`+
     `${def.threshold_text==null?'':' vs threshold '+esc(def.threshold_text)} · ${D.priorities[top[11]]}</div>`+
     `<div class="row">${spark(D.trend.dau[acc],110,26)}<span class="tag ${task}">task ${task==='none'?'— (digest)':task}</span>`+
     (A[8]?`<a href="${esc(A[8])}" target="_blank" rel="noopener">CRM record</a>`:'')+`</div></li>`;}).join('')+
   (list.length>4?`<li class="muted">${list.length-4} more</li>`:'')+'</ol></section>').join('')+
   (owners.length>shown.length?`<p class="muted">${plural(owners.length-shown.length,'more owner')} — pick one in the filter.</p>`:'');}
function pipeline(S){const st={};D.stages.forEach(s=>st[s]={n:0,arr:0});
  for(const [a] of S.alerts){const s=D.stages[a[3]];st[s].n++;st[s].arr+=s==='converted'?12*a[7]:a[9];}  /* converted: attributed ARR, each expansion once, as the revenue chart counts it */
  const label={open:'open (not worked)',worked:'worked (in window)',converted:'converted',lost:'lost (window closed)'};
  $('pipeline').innerHTML=bars('chart-pipeline',`Expansion pipeline by alert status (${D.counts.sent} alerts sent; ${D.counts.held_out} held out)`,D.stages.map(s=>
    [label[s]||s,st[s].arr,`${money(st[s].arr)} · ${plural(st[s].n,'alert')}`,false,{open:'#e8a33d',worked:'#3b6fd8',converted:'#1f7a4d',lost:'#98a2b3'}[s]]),{width:widthOf('pipeline')});}
function health(S){const c={};D.bands.forEach(b=>c[b]=0);let n=0;
  D.accounts.forEach((a,i)=>{if(S.ok[i]){c[D.bands[a[7]]]++;n++;}});
  const colors={expansion_ready:'#1f7a4d',healthy:'#3b6fd8',developing:'#e8a33d',at_risk:'#b42318',unknown:'#98a2b3'};
  $('health').innerHTML=bars('chart-health','Usage health bands',D.bands.map(b=>[b.replace('_',' '),c[b],String(c[b]),false,colors[b]]),{attr:'band',width:widthOf('health')});
  document.body.dataset.visibleAccounts=n;$('shown').textContent=n;}
// portfolio health over time: churn events of the view's accounts (an event whose account is not in the page's
// account list counts only in the unfiltered view), churned ARR and accounts per quarter, and churn among the
// view's alerted accounts vs the rest. Greyed out with the reason below min_churn events or min_group accounts.
function churn(S){const box=$('churn');if(!D.churn_model){box.innerHTML='<p class="muted">No churn model configured ([outcomes] churn), so churn is not shown.</p>';return;}
  const filtered=KEYS.some(k=>S.f[k]);const ev=(D.churn||[]).filter(c=>c[2]<0?!filtered:S.ok[c[2]]);
  const q={},lost=new Set();let arr=0;for(const c of ev){const k=quarter(c[0]);q[k]=q[k]||{arr:0,acc:new Set(),cancel:new Set()};
    q[k].arr+=12*c[1];q[k].acc.add(c[2]);if(D.churn_kinds[c[3]]==='cancel')q[k].cancel.add(c[2]);arr+=12*c[1];if(c[2]>=0)lost.add(c[2]);}
  const alerted=new Set(S.alerts.map(([a])=>a[0]));let na=0,ca=0,nq=0,cq=0;
  D.accounts.forEach((_,i)=>{if(!S.ok[i])return;if(alerted.has(i)){na++;if(lost.has(i))ca++;}else{nq++;if(lost.has(i))cq++;}});
  const few=ev.length<D.min_churn,small=Math.min(na,nq)<D.min_group;const qs=Object.keys(q).sort();const B=document.body.dataset;
  B.churnEvents=ev.length;B.churnArr=Math.round(arr);B.churnAlerted=`${ca}/${na}`;B.churnQuiet=`${cq}/${nq}`;
  const rate=(k,n)=>{const ci=wilson(k,n);return n?`${pct(k/n)} of ${plural(n,'account')} (95% CI ${pct(ci[0])}–${pct(ci[1])})`:'no accounts';};
  const why=few?`too few churn events in this view (${ev.length}, need ${D.min_churn})`:
    `too few ${na<nq?'alerted':'never-alerted'} accounts in this view to compare (${Math.min(na,nq)}, need ${D.min_group})`;
  box.innerHTML=`<h3>Churn <span class="muted">(${plural(ev.length,'event')}, ${money(arr)} ARR lost)</span></h3>`+(qs.length?
    `<table id="churn-quarters"${few?' class="grey"':''}><thead><tr><th scope="col">quarter</th><th scope="col" class="num">ARR lost</th>`+
    `<th scope="col" class="num">accounts</th><th scope="col" class="num">cancelled</th></tr></thead><tbody>`+
    qs.map(k=>`<tr data-quarter="${k}"><td>${k}</td><td class="num">${money(q[k].arr)}</td><td class="num">${q[k].acc.size}</td><td class="num">${q[k].cancel.size}</td></tr>`).join('')+
    '</tbody></table>':'<p class="muted">No churn in this view.</p>')+
   `<p id="churn-split"${few||small?' class="grey"':''}>Churned: alerted accounts ${rate(ca,na)}; never alerted ${rate(cq,nq)}.</p>`+
   (few||small?`<p class="muted">Grey: ${why}.</p>`:'');}
function effectiveness(S){const by={};for(const [a] of S.alerts){if(a[2]+D.window_days>D.today)continue;
    const t=D.triggers[a[1]];(by[t]=by[t]||[0,0]);by[t][0]++;if(a[6]>0)by[t][1]++;}
  const rows=D.triggers.filter(t=>by[t]);const name=t=>`${trig(t)} (n=${by[t][0]})`;const W=widthOf('effect');
  /* wide: labels in a column as wide as the longest (~7 px a character), the plot beside them; narrow: each label
     on its own line above its interval, the plot the whole width */
  const L0=Math.max(180,16+7*Math.max(0,...rows.map(t=>name(t).length))),stack=W-L0-40<200,L=stack?14:L0,P=W-L-(stack?18:40),
    H=stack?44:26,top=stack?20:0;const x=v=>L+P*v;
  if(!rows.length){$('effect').innerHTML=`<p class="muted">Not enough data yet: no alert in this view has finished its ${D.window_days}-day window.</p>`;return;}
  let s=`<svg id="chart-effectiveness" viewBox="0 0 ${W} ${H*rows.length+22}" role="img" aria-label="Conversion per trigger with 95% intervals">`;
  [0,.25,.5,.75,1].forEach(v=>s+=`<line x1="${x(v)}" x2="${x(v)}" y1="0" y2="${H*rows.length}" stroke="#eaecf0"/><text x="${x(v)}" y="${H*rows.length+15}" text-anchor="middle">${pct(v)}</text>`);
  s+=`<line x1="${x(D.targets.conversion)}" x2="${x(D.targets.conversion)}" y1="0" y2="${H*rows.length}" stroke="#b42318" stroke-dasharray="3,3"/>`;
  rows.forEach((t,i)=>{const [n,k]=by[t],y=i*H+H/2+top/2,few=n<D.min_matured,ci=wilson(k,n),col=few?'#98a2b3':'#3b6fd8';
    const exp=((D.trigger_defs[t]||{}).expected||'').match(/(\d+)\D+(\d+)/);
    if(exp)s+=`<rect x="${x(exp[1]/100)}" y="${y-8}" width="${Math.max(2,x(exp[2]/100)-x(exp[1]/100))}" height="16" fill="#1f7a4d" opacity=".15"/>`;
    s+=(stack?label(0,y-12,name(t),W,` class="${few?'grey':''}"`):label(L-8,y+4,name(t),L-12,` text-anchor="end" class="${few?'grey':''}"`))+
      `<line x1="${x(ci[0])}" x2="${x(ci[1])}" y1="${y}" y2="${y}" stroke="${col}" stroke-width="2"/>`+
      `<circle cx="${x(k/n)}" cy="${y}" r="4.5" fill="${col}" data-trigger="${esc(t)}" data-rate="${(k/n).toFixed(4)}"><title>${k}/${n}${few?' — too few matured alerts (need '+D.min_matured+')':''}</title></circle>`;});
  const few=rows.filter(t=>by[t][0]<D.min_matured);
  $('effect').innerHTML=s+'</svg>'+(few.length?`<p class="muted">Grey: fewer than ${D.min_matured} matured alerts (${few.map(t=>trig(t)).join(', ')}); the interval is too wide to act on.</p>`:'')+
    '<p class="muted">Dot: converted within the window; line: 95% interval; green band: seed expected range; dashed: target.</p>';}
function lift(){const L=D.lifts||[];if(!L.length){$('lift').innerHTML='<p class="muted">Not enough data yet: no holdout group is configured ([alerts.holdout]), so there is nothing to compare against.</p>';return;}
  $('lift').innerHTML='<table><thead><tr><th scope="col">trigger</th><th scope="col">alerted</th><th scope="col">held out</th><th scope="col">lift (95% CI)</th></tr></thead><tbody>'+
   L.map(l=>`<tr${l.lift==null||l.too_few?' class="grey"':''}><td>${esc(trig(l.trigger))}</td><td>${pct(l.alerted_rate)} of ${l.alerted}</td><td>${pct(l.held_out_rate)} of ${l.held_out}</td><td>`+
   (l.lift==null?`not enough data yet: ${l.alerts_still_needed} more alerts needed`:`${l.lift>=0?'+':''}${Math.round(100*l.lift)} pts (${pct(l.ci_low)} to ${pct(l.ci_high)})${l.significant?' ✔':''}${l.too_few?' · too few to read yet (under 30 matured in a group)':''}`)+'</td></tr>').join('')+
   '</tbody></table><p class="muted">Lift is the whole book (holdouts are assigned per account and trigger); filters do not apply.</p>';}
function revenue(S){const per={},q={};for(const c of D.credits){const a=D.alerts[c[2]];if(a[0]<0||!S.ok[a[0]])continue;
    const t=D.triggers[a[1]];per[t]=(per[t]||0)+12*c[1];q[quarter(c[0])]=(q[quarter(c[0])]||0)+12*c[1];}
  let un=0;for(const u of D.unattributed){if(u[2]<0||S.ok[u[2]])un+=12*u[1];}
  const rows=Object.entries(per).sort((x,y)=>y[1]-x[1]).map(([t,v])=>[trig(t),v,money(v)]);rows.push(['unattributed',un,money(un),true]);
  $('revenue').innerHTML=bars('chart-revenue','ARR credited per trigger',rows,{color:'#1f7a4d',width:widthOf('revenue')});
  const qs=Object.keys(q).sort();$('quarters').innerHTML=qs.length?bars('chart-quarters','ARR credited per quarter',qs.map(k=>[k,q[k],money(q[k])]),{color:'#1f7a4d',width:widthOf('quarters')}):
   '<p class="muted">Not enough data yet: no expansion credited to an alert in this view.</p>';}
function accounts(S){const ev={},n={};for(const [a] of S.alerts){ev[a[0]]=(ev[a[0]]||0)+a[9];n[a[0]]=(n[a[0]]||0)+1;}
  const rows=D.accounts.map((a,i)=>[a,i]).filter(([,i])=>S.ok[i]).sort((x,y)=>(ev[y[1]]||0)-(ev[x[1]]||0)||(y[0][6]||0)-(x[0][6]||0));
  const LIMIT=15;$('acct-body').innerHTML=rows.slice(0,LIMIT).map(([a,i])=>`<tr class="acct" data-account="${esc(a[0])}" data-segment="${esc(D.segments[a[2]])}">`+
    `<td><button class="link" data-open="${esc(a[0])}" title="${esc(a[1])}">${esc(a[1])}</button></td><td>${esc(tierLabel(a[3]))}</td><td>${esc(ownerName(a[4]))}</td>`+
    `<td class="num">${a[6]==null?'–':a[6]}</td><td>${spark(D.trend.dau[i],70,18)}</td><td class="num">${n[i]||0}</td><td class="num">${money(ev[i]||0)}</td></tr>`).join('');
  $('acct-more').textContent=rows.length>LIMIT?`${rows.length-LIMIT} more accounts in this view (ranked by expected value, then health).`:'';}
function detail(id){const i=D.accounts.findIndex(a=>a[0]===id);const box=$('detail');
  if(i<0){box.innerHTML='<p class="muted">Pick an account (click its name) to see its usage and alert history.</p>';box.dataset.account='';return;}
  const A=D.accounts[i],dau=D.trend.dau[i],seats=D.trend.seats[i];const W=widthOf('detail'),H=150,P=34;const top=Math.max(1,...dau,...seats);
  const pts=v=>v.map((y,k)=>`${(P+(W-2*P)*k/Math.max(1,v.length-1)).toFixed(1)},${(H-P-(H-2*P)*y/top).toFixed(1)}`).join(' ');
  const start=Date.parse(D.trend.start)/864e5;const mine=D.alerts.filter(a=>a[0]===i).sort((x,y)=>y[2]-x[2]);
  box.dataset.account=id;box.innerHTML=`<h3>${esc(A[1])} <span class="muted">${esc(segmentLabel(A[2]))} · ${A[3]>=0?esc(tierLabel(A[3]))+' plan':'no plan'} · ${esc(ownerName(A[4]))} · MRR ${money(A[5])} · health ${A[6]==null?'–':A[6]}</span></h3>`+
   `<svg class="trend" viewBox="0 0 ${W} ${H}" role="img" aria-label="Weekly DAU and seats, last ${plural(dau.length,'week')}">`+
   `<polyline points="${pts(seats)}" fill="none" stroke="#e8a33d" stroke-dasharray="4,3" stroke-width="2"/><polyline points="${pts(dau)}" fill="none" stroke="#3b6fd8" stroke-width="2.2"/>`+
   `<text x="${P}" y="${H-10}">${dayStr(start)}</text><text x="${W-P}" y="${H-10}" text-anchor="end">${dayStr(start+7*(dau.length-1))}</text>`+
   label(P,14,`weekly mean DAU (blue), seats (orange dashed); max ${Math.round(top)}`,W-P)+'</svg>'+
   (A[8]?`<p><a href="${esc(A[8])}" target="_blank" rel="noopener">Open the CRM record</a></p>`:'')+
   `<table class="hist"><thead><tr><th scope="col">fired</th><th scope="col">trigger</th><th scope="col">value</th><th scope="col">task</th><th scope="col">to action</th><th scope="col">outcome</th></tr></thead><tbody>`+
   (mine.length?mine.map(a=>`<tr><td>${dayStr(a[2])}</td><td>${esc(D.trigger_labels[a[1]])}</td><td class="num">${esc(a[12])}</td><td>${D.tasks[a[10]]}</td>`+
     `<td class="num">${a[4]==null?'–':a[4]+' h'}</td><td>${D.stages[a[3]]}${a[6]?' '+money(12*a[6]):''}</td></tr>`).join(''):'<tr><td colspan="6" class="muted">no alerts</td></tr>')+'</tbody></table>';
  document.querySelectorAll('[data-open]').forEach(b=>b.setAttribute('aria-pressed',b.dataset.open===id?'true':'false'));}
function render(){const S=select();KEYS.forEach(k=>{$('f-'+k).value=S.f[k]||'';});
  kpis(S);callToday(S);pipeline(S);health(S);churn(S);effectiveness(S);lift();revenue(S);accounts(S);detail(S.f.account);}
document.addEventListener('DOMContentLoaded',()=>{
  KEYS.forEach(k=>{const s=$('f-'+k);(k==='segment'?D.segments:k==='tier'?D.tiers:D.owners).forEach((v,i)=>{
    const o=document.createElement('option');o.value=v;o.textContent=k==='owner'?ownerName(i):k==='segment'?segmentLabel(i):tierLabel(i);s.appendChild(o);});
    s.addEventListener('change',()=>{const f=parse();f[k]=s.value;write(f);});});
  $('f-reset').addEventListener('click',()=>write({}));
  document.body.addEventListener('click',e=>{const b=e.target.closest('[data-open]');if(!b)return;const f=parse();f.account=b.dataset.open;write(f);
    $('detail').scrollIntoView({block:'nearest'});});
  window.addEventListener('hashchange',render);render();document.body.dataset.ready='1';
  // charts are drawn at their containers' width: draw again when the page's width changes (a phone turned)
  let frame=0,drawn=innerWidth;document.body.dataset.drawnWidth=drawn;
  window.addEventListener('resize',()=>{cancelAnimationFrame(frame);frame=requestAnimationFrame(()=>{
    if(innerWidth===drawn)return;drawn=innerWidth;render();document.body.dataset.drawnWidth=drawn;});});});
})();
