"""The panel's stylesheet: fixed columns that never shrink, flexible name and notes columns,
text ellipsized (full text on hover), the table scrolling inside the panel."""

CSS = """
<style>
.labmate-panel .labmate-table { max-height: 440px; overflow: auto; }
.labmate-panel .labmate-header { position: sticky; top: 0; z-index: 5;
  background: var(--jp-layout-color1, #fff); border-bottom: 1px solid var(--jp-border-color2, #ddd); }
.labmate-panel .labmate-line > * { flex-shrink: 0; box-sizing: border-box; }
.labmate-panel .labmate-cell, .labmate-panel .labmate-cell * { overflow: hidden;
  white-space: nowrap; text-overflow: ellipsis; }
.labmate-panel .labmate-line .labmate-flex { flex: 1 1 0; }
.labmate-panel button.labmate-name { text-align: left; padding: 0 6px; }
.labmate-panel .labmate-row.labmate-selected { background: var(--jp-layout-color2, #eef3fb); }
.labmate-panel .labmate-row-error { color: #c62828; font-size: 90%; margin-left: 8px;
  overflow: hidden; white-space: nowrap; text-overflow: ellipsis; max-width: 100%; }
.labmate-panel .labmate-thumb img, .labmate-panel img.labmate-thumb { max-width: 240px;
  max-height: 180px; border: 1px solid var(--jp-border-color2, #ddd); }
.labmate-panel .labmate-thumb-name { max-width: 240px; overflow: hidden; white-space: nowrap;
  text-overflow: ellipsis; font-size: 90%; }
.labmate-panel .labmate-row button { flex-shrink: 0; }
</style>
"""
