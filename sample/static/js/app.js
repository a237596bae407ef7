// Progressive touches only: every page works without this script.
document.addEventListener('DOMContentLoaded', () => {
  // Ask before a destructive form is sent.
  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // Suggest a slug from the name until the slug is typed by hand.
  for (const slug of document.querySelectorAll('input[data-slug-from]')) {
    const source = document.getElementById(slug.dataset.slugFrom);
    let touched = slug.value !== '';
    slug.addEventListener('input', () => {
      touched = true;
    });
    source?.addEventListener('input', () => {
      if (touched) return;
      slug.value = source.value
        .toLowerCase()
        .normalize('NFKD')
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')
        .slice(0, 32);
    });
  }
});
