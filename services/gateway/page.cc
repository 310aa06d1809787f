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
<button onclick="go()">Recommend</button> <span class="muted">calls GET /v1/users/{id}/recommendations?debug=true</span></p>
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

}  // namespace recstack::gateway
