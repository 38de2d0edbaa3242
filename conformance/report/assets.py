"""Inline CSS and JavaScript for the HTML pages (no network: everything is in the file)."""
from __future__ import annotations

from conformance.report.formatting import COLORS

_STATUS_CSS = "\n".join(
    f".st-{s.value}{{--c:{c}}} .mark.st-{s.value},.chip.st-{s.value} b{{background:{c}}}"
    for s, c in COLORS.items()
)

CSS = """
:root{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:14px;color:#1f2328}
body{margin:0 auto;max-width:1400px;padding:12px 20px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #d0d7de}
.verdict{padding:8px 12px;border-radius:6px;font-weight:600;font-size:16px}
.verdict.ok{background:#dafbe1;border:1px solid #2da44e}.verdict.bad{background:#ffebe9;border:1px solid #cf222e}
.banner{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;margin:8px 0;font-weight:600}
table.meta td{padding:1px 10px 1px 0;vertical-align:top}table.meta td:first-child{color:#59636e}
.filters{position:sticky;top:0;background:#fff;padding:6px 0;z-index:2;border-bottom:1px solid #eee}
.chip{display:inline-block;margin:2px 6px 2px 0;padding:2px 8px;border:1px solid #d0d7de;border-radius:12px;cursor:pointer}
.chip b{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
input[type=search]{padding:4px 8px;width:260px;border:1px solid #d0d7de;border-radius:6px}
.scroll{overflow:auto;max-height:80vh}
table.matrix{border-collapse:collapse;font-size:12px}
table.matrix th,table.matrix td{border:1px solid #e1e4e8;padding:2px 3px}
table.matrix thead th{position:sticky;top:0;background:#f6f8fa;writing-mode:vertical-rl;transform:rotate(180deg);
 text-align:left;max-height:160px;white-space:nowrap;font-weight:500}
table.matrix th.op{text-align:left;white-space:nowrap;font-weight:500;position:sticky;left:0;background:#fff}
table.dtypes{border-collapse:collapse;font-size:12px}
table.dtypes th,table.dtypes td{border:1px solid #e1e4e8;padding:2px 6px;text-align:right}
td.cell{background:color-mix(in srgb,var(--c,#fff) 22%,white);min-width:34px;white-space:nowrap}
td.cell.empty{background:#fafbfc}
.mark{display:inline-block;min-width:22px;margin:1px;padding:0 2px;border-radius:3px;color:#fff;font-size:10px;
 text-align:center;text-decoration:none;line-height:16px}
.mark.st-not-applicable{color:#333}
.legend .chip{cursor:default}
.detail{border:1px solid #d0d7de;border-left:6px solid var(--c);border-radius:6px;margin:10px 0;padding:6px 12px}
.detail h3{font-size:14px;margin:4px 0}.detail .why{white-space:pre-wrap}
pre{background:#f6f8fa;padding:8px;border-radius:6px;overflow:auto;max-height:420px;font-size:12px;margin:4px 0}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:8px}.pair pre{max-height:200px}
button.copy{float:right;font-size:11px;margin:2px}
.plots img{border:1px solid #eee;margin:3px}.plots figure{display:inline-block;margin:0}
table.cells{border-collapse:collapse;font-size:12px}table.cells td,table.cells th{padding:1px 8px;border-bottom:1px solid #eee;text-align:left}
.small{color:#59636e;font-size:12px}
[hidden]{display:none!important}
""" + _STATUS_CSS

JS = r"""
(function(){
  function q(s,root){return Array.prototype.slice.call((root||document).querySelectorAll(s));}
  function apply(){
    var on={};q('input.fstatus').forEach(function(c){on[c.value]=c.checked;});
    var t=(document.getElementById('ftext')||{value:''}).value.trim().toLowerCase();
    function ok(el){
      var st=el.getAttribute('data-status');
      var hay=((el.getAttribute('data-op')||'')+' '+(el.getAttribute('data-prop')||'')+' '+(el.getAttribute('data-engine')||'')).toLowerCase();
      return (st===null||on[st]!==false)&&(!t||hay.indexOf(t)>=0);
    }
    q('.mark,.detail,tr.cellrow,figure.opplot').forEach(function(el){el.hidden=!ok(el);});
    q('table.matrix tbody tr').forEach(function(tr){
      tr.hidden=q('.mark',tr).every(function(m){return m.hidden;});
    });
  }
  q('input.fstatus').forEach(function(c){c.addEventListener('change',apply);});
  var ft=document.getElementById('ftext');if(ft)ft.addEventListener('input',apply);
  q('button.copy').forEach(function(b){b.addEventListener('click',function(){
    var pre=document.getElementById(b.getAttribute('data-target'));var txt=pre?pre.textContent:'';
    function fallback(){var r=document.createRange();r.selectNodeContents(pre);var s=getSelection();
      s.removeAllRanges();s.addRange(r);try{document.execCommand('copy');}catch(e){}}
    if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(txt).then(function(){
      b.textContent='Copied';},fallback);}else{fallback();b.textContent='Copied';}
    setTimeout(function(){b.textContent='Copy';},1500);
  });});
  apply();
})();
"""
