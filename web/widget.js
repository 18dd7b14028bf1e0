/* shopchat widget: placeholder until the widget lands */ (function(){ const CSS = "__SHOPCHAT_CSS__"; })();
