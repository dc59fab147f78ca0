// Products and their builds.

import * as api from '../api.js';
import { h, replace, empty, setTitle, field, showFormError, toast, safe, fmtDate } from '../dom.js';
import { stageBadge, productHistory, forgetProducts, closingLine } from './common.js';
import { buildFields } from './build-settings.js';

const MANAGERS = ['admin', 'release_manager'];

function slugify(s) {
  return s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
}

export async function renderList(root, ctx) {
  setTitle('Products');
  const [products, builds] = await Promise.all([api.all('/products'), api.all('/builds')]);
  if (!ctx.isCurrent()) return;
  const manager = MANAGERS.includes(ctx.user.role);
  const byId = new Map(builds.map((b) => [b.id, b]));
  const counts = new Map();
  for (const b of builds) counts.set(b.product_id, (counts.get(b.product_id) || 0) + 1);

  let form = null;
  if (manager) {
    const name = h('input', { type: 'text', name: 'name', id: 'p-name', required: true, maxlength: '100' });
    const slug = h('input', { type: 'text', name: 'slug', id: 'p-slug', required: true, maxlength: '60', pattern: '[a-z0-9-]+' });
    let slugTouched = false;
    name.addEventListener('input', () => { if (!slugTouched) slug.value = slugify(name.value); });
    slug.addEventListener('input', () => { slugTouched = true; });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'p-create' }, 'Create product');
    form = h('form', { class: 'form inline-form', id: 'product-form', novalidate: true }, field('Name', name), field('Slug', slug, 'Lowercase letters, digits and dashes.'), submit);
    form.addEventListener('submit', safe(async (e) => {
      e.preventDefault();
      showFormError(form, null);
      if (!name.value.trim() || !slug.value.trim()) {
        showFormError(form, { message: 'A product needs a name and a slug.' });
        return;
      }
      submit.disabled = true;
      try {
        const p = await api.post('/products', { name: name.value.trim(), slug: slug.value.trim() });
        forgetProducts();
        toast(`Product ${p.name} created`, 'ok');
        ctx.navigate(`/products/${p.id}`);
      } catch (err) {
        showFormError(form, err);
        submit.disabled = false;
      }
    }));
  }

  replace(root,
    h('h1', {}, 'Products'),
    products.length
      ? h('section', { class: 'card' }, h('ul', { class: 'rows', id: 'products' }, products.map((p) => {
        const prod = p.production_build_id ? byId.get(p.production_build_id) : null;
        return h('li', { class: 'row', 'data-testid': `product-${p.id}` },
          h('div', { class: 'row-main' }, h('a', { href: `/products/${p.id}`, class: 'row-title' }, p.name), h('span', { class: 'muted small' }, ` ${p.slug}`),
            h('div', { class: 'muted small' }, `${counts.get(p.id) || 0} builds · in production: `, prod ? `build ${prod.version}` : 'nothing yet')));
      })))
      : empty(manager ? 'No products yet: create the first one.' : 'No products yet.'),
    form ? h('section', { class: 'card' }, h('h2', {}, 'New product'), form) : null);
}

export async function renderOne(root, ctx) {
  const id = Number(ctx.params[0]);
  const [products, builds] = await Promise.all([api.all('/products'), api.all('/builds', { product_id: id })]);
  if (!ctx.isCurrent()) return;
  const product = products.find((p) => p.id === id);
  if (!product) {
    replace(root, h('h1', {}, 'Product not found'), h('p', {}, h('a', { href: '/products' }, 'All products')));
    return;
  }
  setTitle(product.name);
  const manager = MANAGERS.includes(ctx.user.role);
  const mine = builds.filter((b) => b.product_id === id).sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));

  let form = null;
  if (manager) {
    const { nodes, read } = buildFields({}, { withVersion: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'b-create' }, 'Create build');
    form = h('form', { class: 'form', id: 'new-build-form', novalidate: true }, nodes, submit);
    form.addEventListener('submit', safe(async (e) => {
      e.preventDefault();
      showFormError(form, null);
      const body = read();
      if (!body.version) {
        showFormError(form, { message: 'A build needs a version.', fields: { version: 'required' } });
        return;
      }
      if (!body.closes_at) delete body.closes_at;
      submit.disabled = true;
      try {
        const b = await api.post(`/products/${id}/builds`, body);
        toast(`Build ${b.version} created: now add its changes`, 'ok');
        ctx.navigate(`/builds/${b.id}/settings`);
      } catch (err) {
        showFormError(form, err);
        submit.disabled = false;
      }
    }));
  }

  const history = await productHistory(id, ctx.user, () => ctx.navigate(location.pathname, { replace: true }));
  replace(root,
    h('p', { class: 'crumbs' }, h('a', { href: '/products' }, 'Products')),
    h('div', { class: 'title-row' }, h('h1', { id: 'product-title' }, product.name), h('span', { class: 'muted' }, product.slug)),
    h('section', { class: 'card' }, h('h2', {}, 'Builds'),
      mine.length ? h('ul', { class: 'rows', id: 'product-builds' }, mine.map((b) => h('li', { class: 'row', 'data-testid': `pbuild-${b.id}` },
        h('div', { class: 'row-main' }, h('a', { href: `/builds/${b.id}/report`, class: 'row-title' }, `Build ${b.version}`), ' ', stageBadge(b.stage),
          h('div', { class: 'muted small' }, `Created ${fmtDate(b.created_at)} · `, closingLine(b))),
        h('div', { class: 'row-actions' },
          h('a', { href: `/builds/${b.id}/report`, class: 'btn btn-small' }, 'Report'),
          manager ? h('a', { href: `/builds/${b.id}/board`, class: 'btn btn-small' }, 'Release board') : null,
          manager ? h('a', { href: `/builds/${b.id}/settings`, class: 'btn btn-small' }, 'Settings') : null))))
        : empty('No builds yet.')),
    history,
    form ? h('section', { class: 'card' }, h('h2', {}, 'New build'), form) : null);
}
