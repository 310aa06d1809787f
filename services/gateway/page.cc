#include "services/gateway/page.h"

namespace recstack::gateway {

const char kPageHtml[] = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>recstack: a recommendation's journey</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0;width:100%}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;font-size:13px}
th{background:#f4f4f4}.deg{color:#b00;font-weight:bold}.muted{color:#777}
.bar{display:inline-block;height:8px;background:#4a7}.neg{background:#c55}
input,button{font-size:14px;padding:4px 8px}
</style></head><body>
<h1>recstack: one recommendation, end to end</h1>
<p>User <input id="user" value="1" size="12"> k <input id="k" value="10" size="3">
ranker <input id="ranker" placeholder="(experiment)" size="12">
<button onclick="go()">Recommend</button> <span class="muted">calls GET /v1/users/{id}/recommendations?debug=true</span>
· <a href="/experiments">experiments</a></p>
<div id="out"></div>
<script>
function esc(s){return String(s??'').replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
function ms(us){return ((us||0)/1000).toFixed(2)+' ms'}
async function go(){
  const u=encodeURIComponent(document.getElementById('user').value);
  const k=document.getElementById('k').value, r=document.getElementById('ranker').value;
  const out=document.getElementById('out'); out.innerHTML='…';
  const res=await fetch(`/v1/users/${u}/recommendations?debug=true&k=${k}`+(r?`&ranker=${encodeURIComponent(r)}`:''));
  const j=await res.json();
  if(!res.ok){out.innerHTML=`<p class="deg">${res.status} ${esc(j.error?.code)}: ${esc(j.error?.message)}</p>`;return}
  let h=`<p>request <code>${esc(j.request_id)}</code>, model <b>${esc(j.model_version||'-')}</b>, ranker <b>${esc(j.ranker)}</b>`+
        (j.variant?` (experiment ${esc(j.experiment)}, variant <b>${esc(j.variant)}</b>)`:'')+`, total ${ms(j.total_us)}</p>`;
  if(j.degraded)h+=`<p class="deg">degraded: ${esc(j.degraded_reason)}</p>`;
  h+='<h2>Timings</h2><table><tr><th>stage</th><th>time</th><th>status</th><th>items</th></tr>';
  for(const s of j.stages||[])h+=`<tr><td>${esc(s.stage)}</td><td>${ms(s.duration_us)}</td><td>${esc(s.status)}</td><td>${(s.items||[]).length}</td></tr>`;
  h+='</table>';
  const ret=(j.stages||[]).find(s=>s.stage==='retrieval');
  if(ret){
    h+='<h2>Candidates per source</h2><table><tr><th>source</th><th>candidates</th><th>kept</th><th>time</th><th>error</th></tr>';
    for(const s of ret.sources||[])h+=`<tr><td>${esc(s.source)}</td><td>${s.candidates||0}</td><td>${s.kept||0}</td><td>${ms(s.latency_us)}</td><td>${esc(s.error)}</td></tr>`;
    h+='</table>';
  }
  const rank=(j.stages||[]).find(s=>s.stage==='ranking');
  const feats={};for(const f of rank?.features||[])feats[f.item_id]=f.features;
  h+='<h2>Final list</h2><table><tr><th>#</th><th>item</th><th>title</th><th>score</th><th>source</th><th>retrieval rank</th><th>why</th><th>contributions</th></tr>';
  (j.items||[]).forEach((it,i)=>{
    const c=(it.explanation?.contributions||[]).map(x=>{const w=Math.min(60,Math.abs(x.contribution)*60);
      return `${esc(x.feature)} <span class="bar ${x.contribution<0?'neg':''}" style="width:${w}px"></span> ${x.contribution.toFixed(3)}`}).join('<br>');
    h+=`<tr><td>${i+1}</td><td>${esc(it.item_id)}</td><td>${esc(it.item?.title)}</td><td>${(it.score||0).toFixed(4)}</td>`+
       `<td>${esc(it.source)}</td><td>${it.retrieval_rank??0}</td><td>${esc(it.explanation?.reason)}</td><td>${c}</td></tr>`});
  h+='</table>';
  if(rank&&rank.features?.length){
    const names=Object.keys(rank.features[0].features||{}).sort();
    h+='<h2>Features of every candidate</h2><table><tr><th>item</th>'+names.map(n=>`<th>${esc(n)}</th>`).join('')+'</tr>';
    for(const f of rank.features.slice(0,50))h+=`<tr><td>${esc(f.item_id)}</td>`+names.map(n=>`<td>${(f.features[n]??0).toFixed(3)}</td>`).join('')+'</tr>';
    h+='</table>';
  }
  out.innerHTML=h;
}
</script></body></html>
)html";

const char kExperimentsPageHtml[] = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>recstack: experiments</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em;margin:.8em 0 .2em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:13px}
th{background:#f4f4f4}td.l,th.l{text-align:left}.muted{color:#777}.err{color:#b00}
.srm-warn{color:#fff;background:#b00;padding:6px 10px;font-weight:bold;display:inline-block}
.sig{font-weight:bold}
</style></head><body>
<h1>recstack: experiments</h1>
<p class="muted">Readouts computed by the training service from the logged impressions and clicks
(users are the unit: delta-method CIs at 95%, Fieller's interval for the relative lift).
<a href="/experiments">all experiments</a> · <a href="/">one recommendation's journey</a></p>
<nav id="nav"></nav>
<div id="out"><p class="muted">loading…</p></div>
<p id="status" class="muted"></p>
<script>
function esc(s){return String(s??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
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
  try{res=await fetch(url)}catch(e){return {error:`GET ${url}: ${e}`}}
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

}  // namespace recstack::gateway
