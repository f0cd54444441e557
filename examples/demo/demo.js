// @ts-check
/* global document */
// The demo's only script, and an optional one: the resend button waits out the
// cooldown (disabled, the seconds left beside it) instead of being pressed too early.
// Without it the button works at once, and the page says how long to wait.
const button = document.getElementById('resend');
const note = document.getElementById('resend-wait');
if (button instanceof HTMLButtonElement && note !== null) {
  const availableAt = Date.now() + (Number(button.dataset.wait) || 0) * 1000;
  const tick = () => {
    const left = Math.ceil((availableAt - Date.now()) / 1000);
    button.disabled = left > 0;
    note.textContent = left > 0 ? `You can ask for a new one in ${left} second${left === 1 ? '' : 's'}.` : '';
    if (left > 0) setTimeout(tick, 250);
  };
  tick();
}
