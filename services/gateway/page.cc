#include "services/gateway/page.h"

namespace recstack::gateway {

// Every page fetches its data from /v1/ paths through apiFetch: a gateway
// with API keys answers 401 without one; the page then asks for the key
// once, keeps it for the tab (sessionStorage) and sends it as X-API-Key.
#define RECSTACK_PAGE_API_FETCH                                                                \
  "async function apiFetch(url){const send=()=>{const k=sessionStorage.getItem('recstack-api-" \
  "key');return fetch(url,k?{headers:{'X-API-Key':k}}:{})};let res=await send();"              \
  "if(res.status===401){const k=window.prompt('This gateway needs an API key (sent as "        \
  "X-API-Key):');if(k){sessionStorage.setItem('recstack-api-key',k.trim());res=await send()}}" \
  "return res}\n"

const char kPageHtml[] =
    R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>recstack: a recommendation's journey</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
nav.pages{margin-bottom:1em}nav.pages a{margin-right:.8em}nav.pages a.here{font-weight:bold;color:#222;text-decoration:none}
table{border-collapse:collapse;margin:.5em 0;width:100%}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;font-size:13px}
th{background:#f4f4f4}.deg{color:#b00;font-weight:bold}.err{color:#b00}.muted{color:#777}
.bar{display:inline-block;height:8px;background:#4a7}.neg{background:#c55}
input,button{font-size:14px;padding:4px 8px}
table.waterfall td.name{white-space:nowrap;width:12em}table.waterfall td.time{white-space:nowrap;width:7em;text-align:right}
table.waterfall tr.wf-source td.name{padding-left:2em;color:#555}
.track{position:relative;height:14px;background:#f6f6f6}
.wf-bar{position:absolute;top:2px;height:10px;min-width:2px;background:#4a7}
.wf-bar.retrieval{background:#4a7}.wf-bar.ranking{background:#47a}.wf-bar.metadata{background:#a84}
.wf-bar.fallback{background:#b00}.wf-bar.source{background:#8c8;top:3px;height:8px}.wf-bar.total{background:#999}
</style></head><body>
<nav class="pages"><a class="here" href="/">journey</a><a href="/models">models</a><a href="/experiments">experiments</a></nav>
<h1>recstack: one recommendation, end to end</h1>
<form id="form"><p>User <input id="user" name="user" size="12"> k <input id="k" name="k" value="10" size="3">
ranker <input id="ranker" name="ranker" placeholder="(experiment)" size="12">
<button type="submit">Recommend</button> <span class="muted">calls GET /v1/users/{id}/recommendations?debug=true</span></p></form>
<p id="picked" class="muted"></p>
<div id="out"><p class="muted">loading…</p></div>
<script>
)html" RECSTACK_PAGE_API_FETCH
    R"html(function esc(s){return String(s??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
function ms(us){return ((Number(us)||0)/1000).toFixed(2)+' ms'}
async function getJson(url){
  let res,j=null;
  try{res=await apiFetch(url)}catch(e){return {error:`GET ${url}: ${e}`}}
  try{j=await res.json()}catch(e){}
  if(!res.ok)return {status:res.status,error:`${res.status} ${j?.error?.code??''}: ${j?.error?.message??res.statusText}`};
  if(j==null)return {error:`GET ${url}: the answer is not JSON`};
  return {json:j};
}
// One bar of the waterfall: [start, start + us) of `span` microseconds.
function bar(cls,start,us,span){
  const l=Math.min(100,100*Math.max(0,start)/span),w=Math.min(100-l,100*Math.max(0,us)/span);
  return `<div class="track"><div class="wf-bar ${cls}" style="left:${l.toFixed(2)}%;width:${w.toFixed(2)}%" title="${esc(ms(start))} + ${esc(ms(us))}"></div></div>`;
}
// Stages on the gateway's clock; a retrieval source's start is on
// retrieval's own clock (since its Retrieve began), placed at the stage's.
function waterfall(j){
  const stages=j.stages||[];
  let span=Number(j.total_us)||0;
  for(const s of stages)span=Math.max(span,(Number(s.start_us)||0)+(Number(s.duration_us)||0));
  span=Math.max(span,1);
  let h=`<table class="waterfall"><tr><th>step</th><th class="time">time</th><th>0 – ${esc(ms(span))}</th></tr>`;
  for(const s of stages){
    const st=Number(s.start_us)||0;
    h+=`<tr class="wf-stage" data-stage="${esc(s.stage)}"><td class="name">${esc(s.stage)}</td><td class="time">${esc(ms(s.duration_us))}</td><td>${bar(esc(s.stage),st,Number(s.duration_us)||0,span)}</td></tr>`;
    for(const src of s.sources||[])
      h+=`<tr class="wf-source" data-source="${esc(src.source)}"><td class="name">${esc(src.source)}</td><td class="time">${esc(ms(src.latency_us))}</td>`+
         `<td>${bar('source',st+(Number(src.start_us)||0),Number(src.latency_us)||0,span)}</td></tr>`;
  }
  h+=`<tr class="wf-total"><td class="name">total</td><td class="time">${esc(ms(j.total_us))}</td><td>${bar('total',0,Number(j.total_us)||0,span)}</td></tr></table>`;
  return h;
}
function render(j){
  let h=`<p>user <b>${esc(j.user_id)}</b>, request <code>${esc(j.request_id)}</code>, model <b>${esc(j.model_version||'-')}</b>, ranker <b>${esc(j.ranker)}</b>`+
        (j.variant?` (experiment ${esc(j.experiment)}, variant <b>${esc(j.variant)}</b>)`:'')+`, total ${esc(ms(j.total_us))}</p>`;
  if(j.degraded)h+=`<p class="deg">degraded: ${esc(j.degraded_reason)}</p>`;
  h+='<h2>Waterfall</h2><p class="muted">Stages as the gateway timed them. Each retrieval source at its offset '+
     'from when retrieval began the request (the user\'s history is read first), counted from the stage\'s start; '+
     'the rest of the stage is the gRPC hop.</p>'+waterfall(j);
  h+='<h2>Stages</h2><table class="stages"><tr><th>stage</th><th>start</th><th>time</th><th>status</th><th>items</th></tr>';
  for(const s of j.stages||[])h+=`<tr class="stage"><td>${esc(s.stage)}</td><td>${esc(ms(s.start_us))}</td><td>${esc(ms(s.duration_us))}</td><td>${esc(s.status)}</td><td>${(s.items||[]).length}</td></tr>`;
  h+='</table>';
  const ret=(j.stages||[]).find(s=>s.stage==='retrieval');
  if(ret){
    h+='<h2>Candidates per source</h2><table class="sources"><tr><th>source</th><th>candidates</th><th>kept</th><th>start</th><th>time</th><th>error</th></tr>';
    for(const s of ret.sources||[])h+=`<tr class="source"><td>${esc(s.source)}</td><td>${s.candidates||0}</td><td>${s.kept||0}</td><td>${esc(ms(s.start_us))}</td><td>${esc(ms(s.latency_us))}</td><td>${esc(s.error)}</td></tr>`;
    h+='</table>';
  }
  const rank=(j.stages||[]).find(s=>s.stage==='ranking');
  h+='<h2>Final list</h2><table class="items"><tr><th>#</th><th>item</th><th>title</th><th>score</th><th>source</th><th>retrieval rank</th><th>why</th><th>contributions</th></tr>';
  (j.items||[]).forEach((it,i)=>{
    const c=(it.explanation?.contributions||[]).map(x=>{const v=Number(x.contribution)||0,w=Math.min(60,Math.abs(v)*60);
      return `${esc(x.feature)} <span class="bar ${v<0?'neg':''}" style="width:${w}px"></span> ${v.toFixed(3)}`}).join('<br>');
    h+=`<tr class="item"><td>${i+1}</td><td>${esc(it.item_id)}</td><td>${esc(it.item?.title)}</td><td>${(Number(it.score)||0).toFixed(4)}</td>`+
       `<td>${esc(it.source)}</td><td>${esc(it.retrieval_rank??0)}</td><td>${esc(it.explanation?.reason)}</td><td>${c}</td></tr>`});
  h+='</table>';
  if(rank&&rank.features?.length){
    const names=Object.keys(rank.features[0].features||{}).sort();
    h+='<h2>Features of every candidate</h2><table class="features"><tr><th>item</th>'+names.map(n=>`<th>${esc(n)}</th>`).join('')+'</tr>';
    for(const f of rank.features.slice(0,50))h+=`<tr><td>${esc(f.item_id)}</td>`+names.map(n=>`<td>${(Number(f.features?.[n])||0).toFixed(3)}</td>`).join('')+'</tr>';
    h+='</table>';
  }
  return h;
}
async function main(){
  const q=new URLSearchParams(location.search),out=document.getElementById('out'),picked=document.getElementById('picked');
  const k=q.get('k')||'10',ranker=q.get('ranker')||'';
  document.getElementById('k').value=k;document.getElementById('ranker').value=ranker;
  let user=q.get('user');
  if(user===null){
    // No ?user=: one the served model knows.
    const s=await getJson('/v1/model/users?n=1');
    if(s.error){out.innerHTML=`<p class="err">no user to start from: GET /v1/model/users: ${esc(s.error)}</p>`;return}
    user=(s.json.user_ids||[])[0];
    if(!user){out.innerHTML='<p class="err">the served model names no user</p>';return}
    picked.innerHTML=`user <b>${esc(user)}</b> picked from the served model <b>${esc(s.json.model_version)}</b> (<code>?user=ID</code> chooses another)`;
  }
  document.getElementById('user').value=user;
  if(user===''){out.innerHTML='<p class="err">?user= is empty: give a user id, or leave ?user= out to start from a user of the served model</p>';return}
  const url=`/v1/users/${encodeURIComponent(user)}/recommendations?debug=true&k=${encodeURIComponent(k)}`+(ranker?`&ranker=${encodeURIComponent(ranker)}`:'');
  const r=await getJson(url);
  if(r.error){out.innerHTML=`<p class="err">user ${esc(JSON.stringify(user))}: ${esc(r.error)}</p>`;return}
  out.innerHTML=render(r.json);
}
main().catch(e=>{document.getElementById('out').innerHTML=`<p class="err">${esc(e)}</p>`})
  .finally(()=>{document.body.dataset.state='done'});
</script></body></html>
)html";

const char kExperimentsPageHtml[] =
    R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>recstack: experiments</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em;margin:.8em 0 .2em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:13px}
th{background:#f4f4f4}td.l,th.l{text-align:left}.muted{color:#777}.err{color:#b00}
.srm-warn{color:#fff;background:#b00;padding:6px 10px;font-weight:bold;display:inline-block}
.sig{font-weight:bold}
nav.pages{margin-bottom:1em}nav.pages a{margin-right:.8em}nav.pages a.here{font-weight:bold;color:#222;text-decoration:none}
</style></head><body>
<nav class="pages"><a href="/">journey</a><a href="/models">models</a><a class="here" href="/experiments">experiments</a></nav>
<h1>recstack: experiments</h1>
<p class="muted">Readouts computed by the training service from the logged impressions and clicks
(users are the unit: delta-method CIs at 95%, Fieller's interval for the relative lift).
<a href="/experiments">all experiments</a></p>
<nav id="nav"></nav>
<div id="out"><p class="muted">loading…</p></div>
<p id="status" class="muted"></p>
<script>
)html" RECSTACK_PAGE_API_FETCH
    R"html(function esc(s){return String(s??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
const isNum=x=>typeof x==='number'&&isFinite(x);
function fixed(x,d){return isNum(x)?x.toFixed(d):'n/a'}
function count(x){return isNum(x)?x.toLocaleString('en-US'):'n/a'}
// A lift as a signed percentage (relative) or in percentage points (absolute).
function pct(x,d,unit){return isNum(x)?(x>0?'+':'')+(100*x).toFixed(d)+unit:'n/a'}
// An interval; a null end is unbounded.
function ci(a,f){a=a||[];return '['+(a[0]==null?'−∞':f(a[0]))+', '+(a[1]==null?'+∞':f(a[1]))+']'}
function pval(p){return !isNum(p)?'n/a':p<1e-4?p.toExponential(2):p.toFixed(4)}
async function getJson(url){
  let res,j=null;
  try{res=await apiFetch(url)}catch(e){return {error:`GET ${url}: ${e}`}}
  try{j=await res.json()}catch(e){}
  if(!res.ok)return {error:`GET ${url}: ${res.status} ${j?.error?.code??''}: ${j?.error?.message??res.statusText}`};
  if(j==null)return {error:`GET ${url}: the answer is not JSON`};
  return {json:j};
}
function readout(r,exp){
  const traffic={};for(const v of exp?.variants||[])traffic[v.name]=v.traffic;
  const total=(r.variants||[]).reduce((s,v)=>s+(v.users||0),0);
  let h=`<p>control <b>${esc(r.control)}</b></p>`;
  h+='<h3>Variants</h3><table class="variants"><tr><th class="l">variant</th><th class="l">ranker</th><th>users</th>'+
     '<th>share (configured)</th><th>impressions</th><th>clicks</th><th>CTR</th><th>95% CI</th></tr>';
  for(const v of r.variants||[]){
    const share=total>0?esc(pct(v.users/total,1,'%').replace('+',''))+(isNum(traffic[v.name])?` (${esc((100*traffic[v.name]).toFixed(1))}%)`:''):'n/a';
    h+=`<tr class="variant"><td class="l">${esc(v.name)}</td><td class="l">${esc(v.ranker)}</td><td>${esc(count(v.users))}</td>`+
       `<td>${share}</td><td>${esc(count(v.impressions))}</td><td>${esc(count(v.clicks))}</td>`+
       `<td>${esc(fixed(v.ctr,4))}</td><td>${esc(ci(v.ctr_ci,x=>x.toFixed(4)))}</td></tr>`;
  }
  h+='</table>';
  if((r.comparisons||[]).length){
    h+='<h3>Comparisons</h3><table class="comparisons"><tr><th class="l">variant vs control</th><th>absolute lift</th><th>95% CI</th>'+
       '<th>relative lift</th><th>95% CI</th><th>p-value</th><th>MDE (relative, 80% power)</th></tr>';
    for(const c of r.comparisons){
      const sig=isNum(c.p_value)&&c.p_value<0.05;
      h+=`<tr class="comparison"><td class="l">${esc(c.variant)} vs ${esc(c.control)}</td>`+
         `<td>${esc(pct(c.abs_lift,2,' pp'))}</td><td>${esc(ci(c.abs_lift_ci,x=>pct(x,2,' pp')))}</td>`+
         `<td${sig?' class="sig"':''}>${esc(pct(c.rel_lift,1,'%'))}</td><td>${esc(ci(c.rel_lift_ci,x=>pct(x,1,'%')))}</td>`+
         `<td${sig?' class="sig"':''}>${esc(pval(c.p_value))}</td><td>${esc(pct(c.mde_rel,1,'%').replace('+',''))}</td></tr>`;
    }
    h+='</table>';
  }
  const srm=r.srm_p_value;
  h+=`<p class="srm">sample ratio mismatch: chi² = ${esc(fixed(r.srm_chi2,2))}, p = ${esc(pval(srm))}</p>`;
  if(isNum(srm)&&srm<0.001)
    h+=`<p class="srm-warn">SAMPLE RATIO MISMATCH (p = ${esc(pval(srm))} &lt; 0.001): users did not split as configured; `+
       'the assignment or the logging is broken, do not trust the lifts.</p>';
  return h;
}
async function main(){
  const out=document.getElementById('out');
  const want=new URLSearchParams(location.search).get('name');
  const list=await getJson('/v1/experiments');
  if(list.error){out.innerHTML=`<p class="err">${esc(list.error)}</p>`;return}
  let exps=list.json.experiments||[];
  document.getElementById('nav').innerHTML=exps.length?'experiments: '+exps.map(e=>
    `<a href="/experiments?name=${esc(encodeURIComponent(e.name))}">${esc(e.name)}</a>`).join(' · '):'';
  if(want!==null){
    exps=exps.filter(e=>e.name===want);
    // Not among ranking's: ask anyway, the readout says whether it exists.
    if(!exps.length)exps=[{name:want,variants:[]}];
  }
  if(!exps.length){out.innerHTML='<p>ranking runs no experiments (recstack-ranking --experiments FILE).</p>';return}
  const reports=await Promise.all(exps.map(e=>getJson('/v1/experiments/'+encodeURIComponent(e.name))));
  let h='';
  exps.forEach((e,i)=>{
    const arms=(e.variants||[]).map(v=>`${esc(v.name)} (${esc(v.ranker)}, ${esc((100*(v.traffic||0)).toFixed(1))}%)`).join(', ');
    h+=`<section class="experiment"><h2>${esc(e.name)}</h2>`+(arms?`<p class="muted">configured: ${arms}</p>`:'');
    h+=reports[i].error?`<p class="err">${esc(reports[i].error)}</p>`:readout(reports[i].json,e);
    h+='</section>';
  });
  out.innerHTML=h;
}
main().catch(e=>{document.getElementById('out').innerHTML=`<p class="err">${esc(e)}</p>`})
  .finally(()=>{document.getElementById('status').textContent='loaded';document.body.dataset.state='done'});
</script></body></html>
)html";

const char kModelsPageHtml[] =
    R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>recstack: models</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
nav.pages{margin-bottom:1em}nav.pages a{margin-right:.8em}nav.pages a.here{font-weight:bold;color:#222;text-decoration:none}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;font-size:12px;vertical-align:top}
th{background:#f4f4f4}td.l,th.l{text-align:left}.muted{color:#777}.err{color:#b00}
td.l{white-space:nowrap}td.l.muted{font-size:12px}summary{cursor:pointer}
tr.serving{background:#eaf6ea}.badge{background:#2a7;color:#fff;padding:1px 6px;border-radius:3px;font-size:12px}
</style></head><body>
<nav class="pages"><a href="/">journey</a><a class="here" href="/models">models</a><a href="/experiments">experiments</a></nav>
<h1>recstack: models</h1>
<p class="muted">The kept versions (the training service's ListModels, as <code>recstack models</code> lists them),
newest first, by the slot that serves them; each slot serves one version. The metrics are the training run's
held-out evaluation.</p>
<div id="out"><p class="muted">loading…</p></div>
<script>
)html" RECSTACK_PAGE_API_FETCH
    R"html(function esc(s){return String(s??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
const isNum=x=>typeof x==='number'&&isFinite(x);
function num(x){return !isNum(x)?'n/a':Number.isInteger(x)?x.toLocaleString('en-US'):Math.abs(x)>=100?x.toFixed(1):x.toFixed(4)}
function when(msec){return isNum(msec)&&msec>0?new Date(msec).toISOString().slice(0,16).replace('T',' '):'n/a'}
const kSlots=['factors','ease','gbdt','logistic'];
async function main(){
  const out=document.getElementById('out');
  let res,j=null;
  try{res=await apiFetch('/v1/models')}catch(e){out.innerHTML=`<p class="err">GET /v1/models: ${esc(e)}</p>`;return}
  try{j=await res.json()}catch(e){}
  if(!res.ok){out.innerHTML=`<p class="err">GET /v1/models: ${res.status} ${esc(j?.error?.code??'')}: ${esc(j?.error?.message??res.statusText)}</p>`;return}
  const models=j?.models||[];
  if(!models.length){out.innerHTML='<p>no model has been published yet (<code>recstack train</code>).</p>';return}
  const slots=[...kSlots,...new Set(models.map(m=>m.slot).filter(s=>!kSlots.includes(s)))];
  let h='';
  for(const slot of slots){
    const ms=models.filter(m=>m.slot===slot);
    if(!ms.length)continue;
    const names=[...new Set(ms.flatMap(m=>Object.keys(m.metrics||{})))].sort();
    const serving=ms.find(m=>m.serving);
    h+=`<section class="slot" data-slot="${esc(slot)}"><h2>${esc(slot)}</h2><p class="muted">serving: ${serving?`<b>${esc(serving.version)}</b>`:'none'}</p>`;
    h+='<table class="models"><tr><th class="l">version</th><th class="l">algorithm</th><th class="l">created (UTC)</th><th>users</th><th>items</th><th>factors</th>'+
       names.map(n=>`<th>${esc(n)}</th>`).join('')+'<th class="l">params</th></tr>';
    for(const m of ms){
      const kv=Object.entries(m.params||{}).sort();
      const params=kv.length?`<details><summary>${kv.length} param${kv.length>1?"s":""}</summary>${kv.map(([k,v])=>`${esc(k)}=${esc(v)}`).join('<br>')}</details>`:'';
      h+=`<tr class="model${m.serving?' serving':''}" data-version="${esc(m.version)}"><td class="l">${esc(m.version)}`+
         (m.serving?' <span class="badge">serving</span>':'')+`</td><td class="l">${esc(m.algorithm)}</td><td class="l">${esc(when(m.created_at_ms))}</td>`+
         `<td>${esc(num(m.n_users))}</td><td>${esc(num(m.n_items))}</td><td>${esc(num(m.factors))}</td>`+
         names.map(n=>`<td>${esc(num(m.metrics?.[n]))}</td>`).join('')+`<td class="l muted">${params}</td></tr>`;
    }
    h+='</table></section>';
  }
  out.innerHTML=h;
}
main().catch(e=>{document.getElementById('out').innerHTML=`<p class="err">${esc(e)}</p>`})
  .finally(()=>{document.body.dataset.state='done'});
</script></body></html>
)html";

#undef RECSTACK_PAGE_API_FETCH

}  // namespace recstack::gateway
