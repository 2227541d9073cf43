// Apache ECharts, only the parts the console draws (tree-shaken by the bundler).
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, TitleComponent, AriaComponent, SVGRenderer]);

const live = new Set();

// Draws option in el once el is in the document (pages are built before they
// are shown, and a chart needs its size). The SVG renderer keeps text crisp in
// screenshots. Charts whose element has left the page are disposed.
export function chart(el, option, tries = 300) {
  for (const instance of live) {
    if (!instance.getDom().isConnected) {
      instance.dispose();
      live.delete(instance);
    }
  }
  if (!el.isConnected) {
    if (tries > 0) requestAnimationFrame(() => chart(el, option, tries - 1));
    return;
  }
  const instance = echarts.init(el, null, { renderer: 'svg' });
  instance.setOption({ aria: { enabled: true }, animation: false, ...option });
  live.add(instance);
}
