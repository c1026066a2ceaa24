"""The accounts pages' forms (Flask-WTF: each carries and checks the session's CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from accounts.models import ROLE_LABELS

ROLE_CHOICES = [SelectChoice(value, label) for value, label in ROLE_LABELS.items()]


class LoginForm(FlaskForm):
    email = EmailField("メールアドレス", validators=[DataRequired("メールアドレスを入力してください。"), Length(max=254)])
    password = PasswordField("パスワード", validators=[DataRequired("パスワードを入力してください。"), Length(max=256)])


class CodeForm(FlaskForm):
    code = StringField("確認コード（6けた）", validators=[DataRequired("確認コードを入力してください。"), Length(max=12)])


class EmptyForm(FlaskForm):
    """A button (logout, disable, skip): only the CSRF token."""


class InviteForm(FlaskForm):
    email = EmailField("メールアドレス", validators=[DataRequired("メールアドレスを入力してください。"), Length(max=254)])
    role = SelectField("役割", choices=ROLE_CHOICES)
    shop_id = IntegerField("お店（お店の担当者のとき）", validators=[Optional()])
    driver_id = IntegerField("配達員（配達員のとき）", validators=[Optional()])


class RoleForm(FlaskForm):
    role = SelectField("役割", choices=ROLE_CHOICES)
    shop_id = IntegerField("お店", validators=[Optional()])
    driver_id = IntegerField("配達員", validators=[Optional()])


class AcceptForm(FlaskForm):
    display_name = StringField("お名前", validators=[DataRequired("お名前を入力してください。"), Length(max=64)])
    password = PasswordField("パスワード（10文字以上）", validators=[DataRequired("パスワードを入力してください。"),
                                                          Length(min=10, max=256, message="パスワードは10文字以上にしてください。")])
    confirm = PasswordField("パスワード（もう一度）", validators=[EqualTo("password", "パスワードが一致しません。")])
